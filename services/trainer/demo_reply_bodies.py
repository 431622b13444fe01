"""What an agent of the demo shop writes when a knowledge-base section answers the ticket, in English and
Chinese: one body per (article, section index), every figure and every commitment taken from that
section (so a reply built from the passages in its prompt is grounded by construction).

Keys are the English article ids (the Chinese twins are `<id>-zh`, same sections in the same order).
"""

from __future__ import annotations

BODIES: dict[tuple[str, int], dict[str, str]] = {
    ("account-locked", 0): {
        "en": "After 5 failed sign-in attempts we lock the account for 30 minutes to protect it; it unlocks "
        "by itself after that time.",
        "zh": "连续 5 次登录失败后，为了保护账号安全，系统会锁定 30 分钟，到时间后会自动解锁。",
    },
    ("account-locked", 1): {
        "en": "Please use Forgot password on the sign-in page. The reset link is valid for 1 hour, and if it "
        "does not arrive within 10 minutes, please check your spam folder.",
        "zh": '您可以在登录页点击"忘记密码"。重置链接 1 小时内有效；如果 10 分钟内没收到邮件，请看一下垃圾'
        "邮件箱。",
    },
    ("account-locked", 2): {
        "en": "If you no longer have access to your e-mail address, write to us from another address with "
        "your name, postcode and a recent order number, and we will verify your identity before changing "
        "the address on your account.",
        "zh": "如果您已经无法使用注册邮箱，可以用其他邮箱发来姓名、邮编和最近一笔订单号，我们核实身份后再为"
        "您更换账号邮箱。",
    },
    ("account-security", 0): {
        "en": "If you see orders you did not place, please change your password straight away. We will "
        "cancel "
        "undispatched orders and secure your account.",
        "zh": "如果看到不是您下的订单，请立即修改密码。我们会取消尚未发货的订单，并保护好您的账号。",
    },
    ("account-security", 1): {
        "en": "You can turn on two-step verification under Account > Security. We will never ask for your "
        "password or full card number by e-mail or phone.",
        "zh": '您可以在"账户 > 安全"中开启两步验证。我们绝不会通过邮件或电话向您索要密码或完整卡号。',
    },
    ("cancel-an-order", 0): {
        "en": "Orders can be cancelled free of charge until they are packed, usually within 1 hour of "
        "ordering. You can do it under Account > Orders > Cancel, or we can cancel it for you if it has "
        "not been packed yet.",
        "zh": '订单在打包之前都可以免费取消，一般是下单后 1 小时内。您可以在"账户 > 订单 > 取消"中操作，'
        "如果还没打包，我们也可以代为取消。",
    },
    ("cancel-an-order", 1): {
        "en": "A dispatched order cannot be cancelled, but you can refuse the delivery or return it unopened "
        "within 30 days for a full refund.",
        "zh": "已发货的订单无法取消，但您可以拒收，或在 30 天内原封退回，我们会全额退款。",
    },
    ("cancel-an-order", 2): {
        "en": "If you paid by card, your bank releases the payment hold within 3-5 working days after the "
        "cancellation. We never charge a cancellation fee.",
        "zh": "如果是银行卡付款，取消后冻结的款项会在 3-5 个工作日内由银行解冻。我们从不收取取消手续费。",
    },
    ("change-delivery-address", 0): {
        "en": "You can change the delivery address yourself under Account > Orders until the order is "
        "packed. "
        "If the button is greyed out, we will try to update it before the parcel leaves the warehouse.",
        "zh": '订单打包之前，您可以在"账户 > 订单"里自行修改收货地址。如果按钮是灰色的，我们会尽量在包裹出'
        "库前帮您改好。",
    },
    ("change-delivery-address", 1): {
        "en": "Once a parcel is with the carrier we cannot change the address, but you can redirect it with "
        "the carrier's own service using the tracking link. If redirection is not offered, the parcel comes "
        "back to us after a failed delivery and we refund or resend it.",
        "zh": "包裹交给快递后我们就无法再改地址了，但您可以通过物流链接使用快递公司的改派服务。"
        "如果不支持改派，派送失败后包裹会退回给我们，我们再为您退款或重新发货。",
    },
    ("change-delivery-address", 2): {
        "en": "Saved addresses are managed under Account > Addresses; changes there do not affect orders "
        "already placed.",
        "zh": '常用地址在"账户 > 地址"中管理；在这里修改不会影响已经下单的订单。',
    },
    ("complaints-and-feedback", 0): {
        "en": "We take every complaint seriously: a team lead reviews it and replies within 2 working days. "
        "If we got something wrong, we will tell you what we are doing to put it right.",
        "zh": "我们会认真对待您的投诉：组长会亲自查看，并在 2 个工作日内答复。如果是我们做错了，会告诉您我"
        "们打算怎样弥补。",
    },
    ("complaints-and-feedback", 1): {
        "en": "If you are not happy with our reply, you can ask for the complaint to be escalated and the "
        "customer service manager will review it within 5 working days.",
        "zh": "如果对答复不满意，您可以要求升级，客服经理会在 5 个工作日内复核。",
    },
    ("complaints-and-feedback", 2): {
        "en": "We pass every compliment on to the team member by name, so your words will reach them.",
        "zh": "每一条表扬我们都会点名转达给对应的同事，您的话一定会带到。",
    },
    ("contact-us", 1): {
        "en": "It helps if you include your order number in your reply; it starts with NW- and is in your "
        "order confirmation.",
        "zh": "回复时请附上订单号；订单号以 NW- 开头，可以在订单确认邮件里找到。",
    },
    ("damaged-items", 0): {
        "en": "Damage can be reported within 14 days of delivery. Please send a photo of the damage and of "
        "the "
        "outer box so we can claim from the carrier.",
        "zh": "签收后 14 天内都可以反馈破损。请发来破损处和外包装箱的照片，方便我们向快递公司索赔。",
    },
    ("damaged-items", 1): {
        "en": "You choose: a free replacement sent by Express delivery, or a full refund. You do not need to "
        "send broken glass or ceramics back; for other items we send a prepaid return label.",
        "zh": "由您选择：免费补发（走特快配送），或全额退款。碎掉的玻璃和陶瓷不用寄回；其他商品我们会提供预"
        "付运费的退货面单。",
    },
    ("damaged-items", 2): {
        "en": "Please tell us which part is missing and we will send it separately, usually within 2 working "
        "days.",
        "zh": "请告诉我们缺的是哪个配件，我们会单独补寄，一般在 2 个工作日内发出。",
    },
    ("delete-account-and-data", 0): {
        "en": "You can close your account under Account > Privacy; orders in progress are completed first.",
        "zh": '您可以在"账户 > 隐私"中注销账号，进行中的订单会先处理完成。',
    },
    ("delete-account-and-data", 1): {
        "en": "We delete your personal data within 30 days of closing the account, except order records that "
        "we must keep for 7 years for tax purposes.",
        "zh": "注销账号后 30 天内我们会删除您的个人数据，但根据税务要求必须保存 7 年的订单记录除外。",
    },
    ("discount-codes", 0): {
        "en": "The code goes in the Discount code field at checkout before paying. Only one code can be used "
        "per order, and codes cannot be added after an order is placed.",
        "zh": '优惠码需要在付款前，在结账页的"优惠码"一栏输入。每笔订单只能使用一个优惠码，下单后无法再补加'
        "。",
    },
    ("discount-codes", 1): {
        "en": "Please check the expiry date and the minimum order value in the terms of the offer. Codes do "
        "not apply to gift cards or items already on sale, and welcome codes work only on a first order.",
        "zh": "请查看活动规则里的有效期和最低消费金额。优惠码不适用于礼品卡和已经打折的商品，新人优惠码只能"
        "用于首单。",
    },
    ("discount-codes", 2): {
        "en": "If you placed the order in the last 24 hours and forgot a valid code, send us the order "
        "number "
        "and the code and we will refund the discount.",
        "zh": "如果是 24 小时内下的单、忘了使用有效的优惠码，请把订单号和优惠码发给我们，我们会把优惠金额退"
        "给您。",
    },
    ("gift-cards", 0): {
        "en": "Gift cards are available from $10 to $500 and are valid for 2 years; any remaining balance "
        "stays on the card.",
        "zh": "礼品卡面额从 $10 到 $500，有效期 2 年，余额会保留在卡里。",
    },
    ("gift-cards", 1): {
        "en": "E-gift cards can be resent to the original recipient. We cannot replace a lost physical gift "
        "card unless you have the card number.",
        "zh": "电子礼品卡可以重新发送给原收件人。实体礼品卡丢失后，除非您有卡号，否则无法补办。",
    },
    ("how-to-return-an-item", 0): {
        "en": "To start a return, go to Account > Orders, choose the order and select Return items; we then "
        "e-mail you a prepaid return label and a QR code.",
        "zh": '进入"账户 > 订单"，选择订单后点击"退货"即可发起退货，我们会把预付运费的退货面单和二维码发到'
        "您的邮箱。",
    },
    ("how-to-return-an-item", 1): {
        "en": "Please pack the items securely, ideally in the original box, attach the label and drop the "
        "parcel at any UPS or post office drop-off point within 14 days.",
        "zh": "请把商品包装好（最好用原包装盒），贴上面单，在 14 天内送到任意 UPS 或邮局网点寄出。",
    },
    ("how-to-return-an-item", 2): {
        "en": "Returns are checked within 3 working days of arrival; we then e-mail you and issue the "
        "refund.",
        "zh": "退货到仓后 3 个工作日内完成检查，随后我们会邮件通知您并办理退款。",
    },
    ("invoices", 0): {
        "en": "A PDF invoice for every order is available under Account > Orders > Invoice once the order "
        "has been dispatched.",
        "zh": '订单发货后，可以在"账户 > 订单 > 发票"中下载 PDF 发票。',
    },
    ("invoices", 1): {
        "en": "For an order already placed, let us know the company name or VAT number within 30 days and we "
        "will issue a corrected invoice.",
        "zh": "已经下单的订单，在 30 天内把公司名称或税号告诉我们，我们会重新开具正确的发票。",
    },
    ("invoices", 2): {
        "en": "For a guest order, just reply to your order confirmation e-mail and we will send the invoice "
        "as a PDF.",
        "zh": "如果是游客身份下单，直接回复订单确认邮件，我们会把 PDF 发票发给您。",
    },
    ("late-or-lost-parcels", 0): {
        "en": "A Standard parcel counts as late when it has not arrived 7 working days after dispatch (10 "
        "for "
        "international orders).",
        "zh": "普通快递在发货后 7 个工作日仍未送达就算延误（国际订单为 10 个工作日）。",
    },
    ("late-or-lost-parcels", 1): {
        "en": "We open a trace with the carrier, which takes up to 5 working days. If the carrier cannot "
        "find "
        "the parcel, we send a free replacement by Express delivery or refund the order in full, whichever "
        "you prefer.",
        "zh": "我们会向快递公司发起查件，最多需要 5 个工作日。如果快递公司找不到包裹，我们会用特快配送免费"
        "补发，"
        "或者全额退款，由您选择。",
    },
    ("late-or-lost-parcels", 2): {
        "en": "Please check with your neighbours and your safe place first. If it has not turned up after 48 "
        "hours, we will start a carrier investigation.",
        "zh": "请先问问邻居、看看快递柜或代收点。如果 48 小时后仍未找到，我们会向快递公司发起调查。",
    },
    ("marketing-emails", 0): {
        "en": "Every marketing e-mail has an Unsubscribe link at the bottom, and you can switch off "
        "newsletters under Account > Preferences; changes take effect within 48 hours.",
        "zh": '每封营销邮件底部都有"退订"链接，您也可以在"账户 > 偏好设置"中关闭订阅，48 小时内生效。',
    },
    ("payment-declined", 0): {
        "en": "The most common reasons are a billing address that does not match the card, an expired card, "
        "a 3-D Secure check that timed out, or a spending limit set by the bank.",
        "zh": "最常见的原因是账单地址与银行卡信息不一致、卡已过期、3-D Secure 验证超时，或者银行设置了消费"
        "限额。",
    },
    ("payment-declined", 1): {
        "en": "Please check that the billing address matches your bank's records exactly, then try again. If "
        "it still fails, another payment method such as PayPal usually works; only your bank can tell you "
        "why it declined a payment.",
        "zh": "请确认账单地址与银行登记的完全一致，然后重试。如果还是失败，可以换一种支付方式，例如 PayPal；"
        "银行拒绝付款的具体原因只有您的银行能告诉您。",
    },
    ("payment-declined", 2): {
        "en": "A failed attempt can leave a temporary authorisation on your card; it is not a charge and "
        "disappears within 3-5 working days. If you see two completed charges for one order, we refund the "
        "duplicate within 2 working days.",
        "zh": "支付失败时卡上可能会留下一笔临时预授权，这不是实际扣款，3-5 个工作日内会自动消失。"
        "如果一笔订单确实被扣了两次款，我们会在 2 个工作日内退还重复的款项。",
    },
    ("payment-methods", 0): {
        "en": "We accept Visa, Mastercard and American Express credit and debit cards, PayPal, Apple Pay, "
        "Google Pay and Northwind gift cards.",
        "zh": "我们支持 Visa、Mastercard、American Express 信用卡和借记卡，以及 PayPal、Apple Pay、Google "
        "Pay 和 Northwind 礼品卡。",
    },
    ("payment-methods", 1): {
        "en": "Card payments are authorised when you place the order and charged when it is dispatched.",
        "zh": "银行卡付款在下单时预授权，发货时才正式扣款。",
    },
    ("price-drop-refunds", 0): {
        "en": "If the price of an item drops within 14 days of your order, we refund the difference; please "
        "send us the order number and a link to the item.",
        "zh": "如果商品在下单后 14 天内降价，我们会退还差价；请把订单号和商品链接发给我们。",
    },
    ("price-drop-refunds", 1): {
        "en": "The price promise does not cover flash sales lasting less than 24 hours, clearance items or "
        "prices at other shops.",
        "zh": "价格保护不包括持续时间少于 24 小时的限时抢购、清仓商品，以及其他商店的价格。",
    },
    ("product-questions", 0): {
        "en": "Each product page lists the dimensions, materials and care instructions, and for electricals "
        "the plug type and power rating.",
        "zh": "每个商品页面都列有尺寸、材质和保养方式，电器还会注明插头类型和功率。",
    },
    ("product-questions", 1): {
        "en": "Our clothing follows standard UK sizing, and the size guide on each product page gives the "
        "measurements in centimetres. If you are between sizes, choose the larger one.",
        "zh": "我们的服装采用英国标准尺码，商品页面的尺码表列出了以厘米为单位的尺寸。如果介于两个尺码之间，"
        "建议选大一码。",
    },
    ("product-questions", 2): {
        "en": "If you use Notify me on the product page, we will e-mail you once it is back; most items are "
        "restocked within 2-4 weeks.",
        "zh": '在商品页点击"到货通知"，补货后我们会发邮件提醒您；大多数商品会在 2-4 周内补货。',
    },
    ("refund-timelines", 0): {
        "en": "We issue the refund within 3 working days after your return arrives at our warehouse, and "
        "your "
        "bank then needs 5-10 working days to show it on your statement. PayPal refunds usually appear "
        "within 24 hours.",
        "zh": "退货到达仓库后，我们会在 3 个工作日内办理退款，之后银行还需要 5-10 个工作日才会在账单上显示。"
        "PayPal 退款通常 24 小时内到账。",
    },
    ("refund-timelines", 1): {
        "en": "Refunds always go back to the original payment method; gift card payments are refunded as a "
        "new gift card.",
        "zh": "退款一律原路退回，用礼品卡支付的部分会以一张新的礼品卡退还。",
    },
    ("refund-timelines", 2): {
        "en": "If 10 working days have passed since our refund e-mail and you cannot see the money, reply to "
        "that e-mail with a screenshot of your statement and we will check with our payment provider.",
        "zh": "如果我们发出退款邮件已经超过 10 个工作日，您仍然没有看到款项，请回复那封邮件并附上账单截图，"
        "我们会向支付服务商核实。",
    },
    ("returns-policy", 0): {
        "en": "You can return most items within 30 days of delivery for a full refund, as long as they are "
        "unused and in their original packaging.",
        "zh": "大多数商品在签收后 30 天内都可以退货并全额退款，前提是未使用且保留原包装。",
    },
    ("returns-policy", 1): {
        "en": "Personalised items, opened food items and hygiene products cannot be returned unless they are "
        "faulty.",
        "zh": "定制商品、已开封的食品和个人卫生用品除非有质量问题，否则不能退货。",
    },
    ("returns-policy", 2): {
        "en": "Returns are free with our prepaid label.",
        "zh": "使用我们的预付面单退货免运费。",
    },
    ("shipping-times", 0): {
        "en": "Orders placed before 2 pm on a working day leave our warehouse the same day. Standard "
        "delivery "
        "takes 3-5 working days and Express delivery 1-2 working days.",
        "zh": "工作日下午 2 点前下单当天出库。普通快递 3-5 个工作日送达，特快配送 1-2 个工作日送达。",
    },
    ("shipping-times", 1): {
        "en": "Standard delivery is free on orders over $50 and costs $4.95 below that; Express delivery "
        "costs $9.95.",
        "zh": "订单满 $50 免运费，不满 $50 收取 $4.95；特快配送每单 $9.95。",
    },
    ("shipping-times", 2): {
        "en": "International delivery takes 5-10 working days; import duties are shown at checkout and "
        "included in the price.",
        "zh": "国际配送需要 5-10 个工作日；进口关税会在结账时显示，并已包含在价格中。",
    },
    ("track-your-order", 0): {
        "en": "The carrier's tracking link is in your dispatch confirmation e-mail, and you can also see it "
        "under Account > Orders.",
        "zh": '发货确认邮件里有快递公司的物流链接，您也可以在"账户 > 订单"中查看。',
    },
    ("track-your-order", 1): {
        "en": "Carriers usually scan a parcel within 24 hours of collection. If the tracking has not moved "
        "for "
        "3 working days, reply to your dispatch e-mail and we will open an investigation with the carrier.",
        "zh": "快递公司通常在揽收后 24 小时内扫描包裹。如果物流 3 个工作日都没有变化，请回复发货邮件，我们"
        "会向快递公司发起调查。",
    },
    ("track-your-order", 2): {
        "en": "An order shows processing until it is packed. If it has been processing for more than 2 "
        "working days, an item may be back-ordered and we will e-mail you with the new date.",
        "zh": '订单在打包完成前都会显示"处理中"。如果超过 2 个工作日仍在处理中，可能有商品需要补货，我们会'
        "邮件告诉您新的发货日期。",
    },
    ("warranty", 0): {
        "en": "Every electrical item from Northwind Goods has a 2-year warranty covering manufacturing "
        "faults, and kitchen appliances from our own brand have 3 years.",
        "zh": "Northwind Goods 售出的所有电器都享有 2 年保修，涵盖制造缺陷；自有品牌的厨房电器保修 3 年。",
    },
    ("warranty", 1): {
        "en": "Please send us your order number, a short description of the fault and, if possible, a photo "
        "or video. We will arrange a repair, a replacement or, if neither is possible, a refund.",
        "zh": "请把订单号和故障的简单描述发给我们，方便的话附上照片或视频。我们会安排维修、换新，如果都无法"
        "实现，则为您退款。",
    },
    ("warranty", 2): {
        "en": "Your order confirmation is your proof of purchase, and we can also look up orders by the "
        "e-mail address on your account.",
        "zh": "订单确认邮件就是您的购买凭证；我们也可以通过账号邮箱查到您的订单。",
    },
}
