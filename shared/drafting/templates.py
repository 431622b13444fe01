"""Fallback replies per intent and language, used when the generator is unavailable or its draft is flagged.

They promise nothing that needs a number, an id or a link, and commit to no refund, replacement or
cancellation (that is the team's policy to state), so they pass every guardrail without a cited article.
A ticket gets the fallback in its own language (English or Chinese); other languages get English.
"""

from __future__ import annotations

GREETING = "Hi {name},"
GENERIC = (
    "Thank you for contacting us. We have received your message and a member of our team will look "
    "into it and get back to you as soon as possible."
)
BY_INTENT = {
    "cancel_order": "Thank you for letting us know you would like to cancel your order. We are checking "
    "whether it has left our warehouse yet and will confirm the cancellation or your options shortly.",
    "change_address": "Thank you for sending the new delivery address. We are checking whether the parcel "
    "can still be updated and will confirm once it is done.",
    "where_is_my_order": "I'm sorry your order has not reached you yet. We are checking its status with "
    "our warehouse and the carrier and will update you with what we find.",
    "refund_request": "Thank you for your message about your refund. We are looking into it and will "
    "confirm the details of the refund shortly.",
    "return_item": "Thank you for getting in touch about a return. We are checking your order and will send "
    "you the next steps shortly.",
    "damaged_item": "I'm sorry that your item arrived damaged. We are checking the options for you right "
    "away; a photo of the damage and of the box helps us sort it out faster.",
    "warranty_claim": "I'm sorry the product has stopped working. We will review your warranty claim and "
    "get back to you with the next steps.",
    "complaint": "I'm sorry about your experience. Your complaint has been passed to a team lead, who will "
    "review it and reply to you personally.",
    "praise": "Thank you so much for your kind words. We have passed them on to the team.",
    "product_question": "Thank you for your question about the product. We are checking the details and "
    "will get back to you shortly.",
    "account_locked": "I'm sorry you are locked out of your account. For your security we will verify "
    "your identity and help you regain access.",
    "invoice_request": "Thank you for your request. We will send you the invoice shortly.",
    "payment_failed": "I'm sorry your payment did not go through. We are checking what happened and will "
    "let you know how to complete your order.",
    "discount_code": "Thank you for your message about the discount code. We are checking the offer and "
    "will get back to you shortly.",
}
SIGN_OFF = "Kind regards,\nThe customer service team"


# Chinese: written as a Chinese support team writes (您 throughout), not translated sentence by sentence.
GREETING_ZH = "{name}您好，"
GENERIC_ZH = "感谢您联系我们。我们已经收到您的消息，相关同事会尽快核实处理并回复您。"
BY_INTENT_ZH = {
    "cancel_order": "收到您取消订单的请求。我们正在确认订单是否已经从仓库发出，"
    "稍后会告知您取消结果或其他可选方案。",
    "change_address": "收到您提供的新收货地址。我们正在确认包裹是否还能修改地址，改好后会第一时间通知您。",
    "where_is_my_order": "很抱歉您的包裹还没有送到。我们正在联系仓库和快递公司核实物流状态，"
    "查到结果后马上告诉您。",
    "refund_request": "收到您关于退款的消息。我们正在核实，稍后会和您确认退款的具体情况。",
    "return_item": "感谢您联系我们办理退货。我们正在核实订单，稍后把下一步的操作告诉您。",
    "damaged_item": "很抱歉您收到的商品有损坏。我们马上为您核实处理方案；"
    "方便的话请拍一张商品和外包装的破损照片，可以加快处理。",
    "warranty_claim": "很抱歉商品出现了故障。我们会审核您的保修申请，并尽快告诉您下一步怎么处理。",
    "complaint": "非常抱歉给您带来了不好的体验。您的投诉已经转交给主管，主管会亲自查看并回复您。",
    "praise": "非常感谢您的肯定和鼓励！我们已经把您的话转达给团队。",
    "product_question": "感谢您对商品的咨询。我们正在核实相关信息，稍后回复您。",
    "account_locked": "很抱歉您的账号无法登录。为了您的账户安全，我们会先核实您的身份，再协助您恢复登录。",
    "invoice_request": "收到您的开票申请，我们会尽快把发票发给您。",
    "payment_failed": "很抱歉您的付款没有成功。我们正在查看原因，稍后告诉您如何完成订单。",
    "discount_code": "收到您关于优惠码的消息。我们正在核实活动规则，稍后回复您。",
}
SIGN_OFF_ZH = "祝好！\n客服团队"


def fallback_reply(*, intent: str | None, customer_name: str | None, language: str | None = "en") -> str:
    if language == "zh":
        name = (customer_name or "").strip()
        body = BY_INTENT_ZH.get(intent or "", GENERIC_ZH)
        return f"{GREETING_ZH.format(name=name)}\n\n{body}\n\n{SIGN_OFF_ZH}"
    name = (customer_name or "").split(" ")[0].strip() or "there"
    body = BY_INTENT.get(intent or "", GENERIC)
    return f"{GREETING.format(name=name)}\n\n{body}\n\n{SIGN_OFF}"
