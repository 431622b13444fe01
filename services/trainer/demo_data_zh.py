"""Chinese demo tickets for "Northwind Goods": the same 14 intents and labels as `demo_data`, written as
Chinese customers write to an online shop's support (快递, 退款, 发票, 账号 …), not translated sentence by
sentence. Slots (order ids, products, amounts, carriers, addresses) are drawn from a `random.Random(seed)`;
variation layers add greetings, sign-offs, chat-style writing without punctuation, impatience and, for
about one ticket in ten, a short secondary sentence of another intent (the label stays the primary one).

Deterministic for a given seed. `demo_data.generate_tickets(languages=("en", "zh"))` mixes both.
"""

from __future__ import annotations

import random
import re

from services.trainer.demo_data import (
    INTENTS,
    DemoTicket,
    IntentSpec,
    items,
    priority_for,
    sentiment_for,
    unique_tickets,
)

_SPECS: dict[str, IntentSpec] = {
    "cancel_order": IntentSpec(
        items("取消订单 {order_id} | 申请取消订单 | 订单拍错了，要取消 | 还没发货请帮我取消 | 不想要了"),
        (
            "帮我取消一下订单{order_id}，拍错了",
            "订单{order_id}我不要了，麻烦取消一下，还没发货吧？",
            "同一个东西我下了两次单，请把{order_id}取消掉，另一个保留。",
            "我{date}买的{product}（订单号{order_id}），后来发现线下更便宜，现在还显示待发货，能不能在发货之前帮我取消整单？",
            "您好，订单{order_id}能取消吗？家里人已经买了一个{kitchen}当礼物，用不着第二个了。如果已经发出了，告诉我怎么处理，最好是别发了。",
            "订单{order_id}下了{days}天了还没发货，我不想等了，直接取消吧，请确认一下，{card}别扣款。",
            "刚下的单{order_id}，{qty}件{garment}全选错了，还是取消重新下比较方便，麻烦拦截一下。",
            "孩子用我的账号下单买了{gadget}（{order_id}），我没同意，请在发货前取消。",
            "订单{order_id}显示要{weeks}周才能到，太久了，我周末就要用，请取消并解冻{card}的预授权。",
            "我想撤销订单{order_id}，金额{amount}，计划有变用不上了，不用改地址，直接取消就行。",
        ),
        items(
            "另外{other_order}也帮我取消一下，那个也是拍错的。 | 顺便把我另一个订单{other_order}也取消了吧。"
        ),
    ),
    "change_address": IntentSpec(
        items("修改收货地址 | 订单{order_id}地址写错了 | 改一下配送地址 | 收货地址填错了 | 搬家了要改地址"),
        (
            "订单{order_id}的收货地址写错了，能改成{address}吗？",
            "我刚发现下单时地址填的是老家，还没发货的话请改到{address}，谢谢。",
            "订单{order_id}请改一下收货地址，新地址：{address}，收件人和电话不变。",
            "下单后我搬家了，订单{order_id}还在仓库吧？麻烦发到{address}，不要发原来的地址。",
            "邮编填错了，订单{order_id}，正确的完整地址是{address}。",
            "公司下周搬迁，订单{order_id}（{qty}件）请改送到{address}，发票信息不用改。",
            "地址少写了门牌号，订单{order_id}，请改成{address}，不然快递员找不到。",
            "能不能把订单{order_id}改成送到我公司？地址是{address}，白天家里没人收。",
        ),
        items("对了，我搬家了，以后的包裹都寄到{address}。 | 另外帮我把账户里的默认地址也改成{address}。"),
    ),
    "where_is_my_order": IntentSpec(
        items(
            "我的快递到哪了 | 订单{order_id}还没收到 | 物流一直不更新 | 包裹还没到 | 查一下物流 | 发货了吗"
        ),
        (
            "我的快递到哪了？？",
            "订单{order_id}到现在还没收到，已经{days}天了。",
            "物流单号{tracking}从{weekday}开始就没动过，怎么回事",
            "订单{order_id}说好{date}到的，现在还没消息，帮我查一下。",
            "我{date}买的{product}（订单{order_id}），说三到五天送到，现在都{days}天了还没到。{carrier}单号{tracking}一直显示已揽收，能帮我问问吗？",
            "物流显示昨天已签收，可是门口、快递柜、邻居那里都没有。订单{order_id}，{carrier}配送，包裹去哪了？",
            "订单{order_id}一直显示待发货，已经{days}天了，我{date}出差要穿这件{garment}，什么时候能发？",
            "{carrier}的单号{tracking}一直卡在运输中一个多星期了，我在{city}，是不是丢件了？我就想知道到哪了、什么时候能收到。",
            "订单{order_id}还没到，{date}付了{amount}，没有发货短信也没有单号，请帮忙查一下大概什么时候送到。",
            "只收到了{kitchen}，{gadget}没到，是分开发的吗？订单{order_id}，我只有一个快递单号。",
            "网站上说已经发货了，但是物流链接打不开，订单{order_id}是哪家快递？单号多少？",
        ),
        items("还有我另一个订单{other_order}什么时候能到？ | 顺便问下{other_order}也还没到。"),
    ),
    "refund_request": IntentSpec(
        items("申请退款 | 订单{order_id}退款 | 退款什么时候到账 | 钱还没退回来 | 要求退款"),
        (
            "我要退款，订单{order_id}。",
            "订单{order_id}的退款什么时候到账？",
            "退货已经寄回去{days}天了，钱还没退到{card}，请尽快处理退款。",
            "商品缺货你们取消了订单{order_id}，但是{amount}已经扣了，请退回来。",
            "买的{product}降价了，能不能把差价退给我？订单{order_id}，{date}买的。",
            "同一笔订单{order_id}被扣了两次款，每次{amount}，请把多扣的退给我。",
            "包裹等了两个多星期都没到，不想要了，直接给我退款吧，订单{order_id}。",
            "你们客服{agent}{date}答应给我退{amount}，到现在还没看到，退款进度能查一下吗？",
            "我收到的{garment}尺码是{size}，我买的不是这个，已经按你们说的寄回了，单号{tracking}，请退款到原支付账户。",
        ),
        items("另外{other_order}的退款也还没到。 | 顺便问一下，之前那单{other_order}的钱退了没有？"),
    ),
    "return_item": IntentSpec(
        items("申请退货 | 怎么退货 | 订单{order_id}想退货 | 七天无理由退货 | 退货流程"),
        (
            "{garment}尺码不合适，想退货，怎么操作？",
            "订单{order_id}里的{product}想退掉，还没拆封，能退吗？",
            "买的{garment}颜色跟图片差很多，想退货，订单{order_id}，需要我自己付运费吗？",
            "收到的{kitchen}不太喜欢，还在七天内，想申请无理由退货，请给我退货地址。",
            "订单{order_id}有{qty}件，我只想退其中一件{garment}（{color}，{size}码），可以部分退货吗？",
            "退货标签在哪里打印？订单{order_id}，我想退{gadget}，快递上门取件可以吗？",
            "送礼收到的{product}重复了，想退掉换成余额，没有小票，订单号可能是{order_id}。",
            "请问退货需要原包装吗？{gadget}的盒子我已经扔了，东西是新的。",
        ),
        items("对了，另一个订单{other_order}我可能也要退。 | 还有，{other_order}里的东西也想一起退。"),
    ),
    "damaged_item": IntentSpec(
        items("收到的东西坏了 | 商品破损 | 订单{order_id}质量问题 | 到货就是坏的 | 包裹被压坏了"),
        (
            "收到的{kitchen}是碎的，包装都压扁了。",
            "订单{order_id}的{gadget}开不了机，刚拆开就这样。",
            "快递到的时候箱子就破了，里面的{kitchen}摔裂了，订单{order_id}，照片我拍好了。",
            "{garment}上有个洞，还有污渍，明显不是新的，订单{order_id}。",
            "{gadget}充不进电，换了线和插头都不行，订单{order_id}，买了才{days}天。",
            "餐具套装少了两个盘子，还有一个碗有裂纹，订单{order_id}，要怎么处理？",
            "收到的{product}外壳有划痕，边角也磕坏了，这是新品吗？请给我换一个。",
            "打开包裹发现{kitchen}的把手断了，根本没法用，要求换货或者退款。",
        ),
        items("另外之前收到的{gadget}也有点问题。 | 顺便说一下，{other_order}的包装也是破的。"),
    ),
    "warranty_claim": IntentSpec(
        items("保修申请 | {gadget}坏了能保修吗 | 售后维修 | 质保期内出问题 | 申请保修"),
        (
            "{gadget}用了{months}个月就坏了，还在保修期内吗？",
            "去年买的{kitchen}不加热了，订单{order_id}，想申请保修。",
            "{gadget}右边没声音了，买了{months}个月，能免费修或者换新吗？",
            "{kitchen}的开关坏了，说明书上写保修两年，我该寄到哪里维修？",
            "{gadget}电池鼓包了，有点危险，买了{months}个月，订单{order_id}，请问怎么走保修？",
            "我的{gadget}屏幕失灵，已经过了七天但还在质保期，需要提供什么材料？发票我有。",
            "保修换回来的{kitchen}又坏了，同样的问题，这次能直接退款吗？",
            "{garment}才穿了几次就开线了，你们衣服有质保吗？",
        ),
        items("顺便问下保修期是多久？ | 另外{kitchen}的保修卡我找不到了，有影响吗？"),
    ),
    "complaint": IntentSpec(
        items("投诉 | 对服务很不满意 | 客服态度太差 | 要投诉 | 体验非常糟糕"),
        (
            "你们的服务太差了，我要投诉。",
            "联系了三次客服都没人解决，每次都让我等，这是什么态度？",
            "客服{agent}说话很不耐烦，问题也没解决就把对话关了，我要投诉。",
            "说好的{date}送到，结果拖了一周，也没人通知我，太让人失望了。",
            "我是你们的老客户了，这次体验真的很糟糕：发错货、退款慢、电话打不通。",
            "快递员没打电话就把包裹扔在楼下，东西丢了还说已签收，你们要负责。",
            "网站写的是次日达，实际等了{days}天，这是虚假宣传。",
            "我对订单{order_id}的处理非常不满意，希望有主管联系我。",
        ),
        items("说实话，你们的客服回复也太慢了。 | 另外我对你们的售后服务很失望。"),
    ),
    "praise": IntentSpec(
        items("感谢 | 好评 | 谢谢你们的服务 | 很满意 | 表扬客服{agent}"),
        (
            "东西收到了，质量很好，谢谢！",
            "{product}特别好用，包装也很用心，会再来买的。",
            "客服{agent}非常耐心，帮我很快解决了问题，点赞！",
            "第二天就送到了，比预期快多了，谢谢你们。",
            "买了好几次了，每次都很满意，这次的{garment}也很合身。",
            "退货处理得很快，钱当天就退回来了，服务真不错。",
            "{kitchen}收到了，做工比想象的好，家里人都很喜欢，谢谢Northwind。",
            "之前的问题你们主动联系我解决了，很感动，给你们好评。",
        ),
        items("对了，你们的包装很环保，点赞。 | 顺便说一句，客服{agent}人很好。"),
    ),
    "product_question": IntentSpec(
        items("商品咨询 | 请问{product}的尺寸 | 这个有货吗 | 产品问题咨询 | 想了解一下{gadget}"),
        (
            "{gadget}支持苹果手机吗？",
            "{kitchen}能用在电磁炉上吗？",
            "这款{garment}偏大还是偏小？我平时穿{size}码。",
            "{product}什么时候补货？{color}的一直显示缺货。",
            "{gadget}的续航多久？充满电要多长时间？",
            "{kitchen}可以放洗碗机洗吗？有没有涂层？",
            "这件{garment}是什么面料？会不会起球？",
            "{gadget}和上一代有什么区别？值得升级吗？",
            "请问{product}有没有别的颜色？我想要{color}的。",
        ),
        items("另外想问下{gadget}有没有现货？ | 顺便问一下{kitchen}保修多久？"),
    ),
    "account_locked": IntentSpec(
        items("账号被锁了 | 登录不了 | 账户被冻结 | 无法登录账号 | 收不到验证码"),
        (
            "我的账号被锁了，登录不上。",
            "输错了几次密码，账号就被锁了，怎么解锁？",
            "收不到登录验证码，试了好多次，账号用的邮箱是{email}。",
            "重置密码的邮件一直没收到，垃圾箱也看了，账号{email}。",
            "账号显示被冻结，说有异常登录，我什么都没做，请帮我恢复。",
            "换了手机号以后就登不上了，绑定的还是旧号码，怎么改？",
            "登录的时候一直提示错误{errcode}，换了浏览器也不行，我急着下单。",
            "我的账户好像被盗了，密码被改了，订单里还有我没买过的东西，请马上冻结。",
        ),
        items("另外我的账号好像也登不上了。 | 顺便说下，我收不到你们的验证码短信。"),
    ),
    "invoice_request": IntentSpec(
        items("开发票 | 申请发票 | 订单{order_id}发票 | 要增值税专用发票 | 发票抬头修改"),
        (
            "订单{order_id}能开发票吗？",
            "麻烦给订单{order_id}开一张电子发票，抬头是{company}。",
            "公司报销需要增值税专用发票，订单{order_id}，税号和开户行我可以发给你们。",
            "发票抬头写错了，应该是{company}，订单{order_id}，能重开吗？",
            "之前开的发票{invoice_no}找不到了，能再发一份到{email}吗？",
            "请问{date}的订单发票在哪里下载？我在订单页面没看到。",
            "我们公司这个月买了{qty}单，能不能合并开一张发票？抬头{company}。",
        ),
        items("另外{other_order}也需要开发票。 | 顺便把上个月那单{other_order}的发票也开一下。"),
    ),
    "payment_failed": IntentSpec(
        items("付款失败 | 支付不了 | 扣款了但订单没成功 | 银行卡支付失败 | 付不了款"),
        (
            "付款一直失败，怎么回事？",
            "用{card}付款提示支付失败，卡里钱是够的。",
            "付款时报错{errcode}，试了三次都不行。",
            "钱扣了但是订单显示未支付，{amount}扣了两次，请帮我查一下。",
            "微信支付跳转之后就卡住了，订单{order_id}一直是待付款。",
            "支付宝付不了，提示订单异常，我换了{card}也不行，着急下单。",
            "结账的时候页面一直转圈，最后提示支付超时，但银行发短信说扣款成功了。",
            "优惠券用了以后就付不了款了，不用券反而可以，是系统问题吗？",
        ),
        items("另外我上次付款也失败过一次。 | 顺便说下付款页面经常卡。"),
    ),
    "discount_code": IntentSpec(
        items("优惠码不能用 | 优惠券无效 | 折扣码问题 | 满减没生效 | 新人券用不了"),
        (
            "优惠码{code}用不了，提示无效。",
            "新人优惠券领了但是结账的时候没有抵扣。",
            "折扣码{code}说是{percent}%优惠，下单后价格没变，能补差价吗？",
            "满减活动没生效，订单{order_id}，应该减{amount}的。",
            "你们邮件发的优惠码{code}显示已过期，但邮件上写的有效期还没到。",
            "生日优惠券在哪里领？账号里没看到。",
            "用了{code}以后运费反而变贵了，这合理吗？",
            "下单时忘记用优惠码{code}了，还能补用吗？订单{order_id}。",
        ),
        items("对了，优惠码{code}也帮我看一下。 | 顺便问下还有没有别的优惠活动？"),
    ),
}

_GENERIC_SUBJECTS = items(
    "订单{order_id} | 你好 | 咨询 | 客户反馈 | （无主题） | 来自{name}的留言 | 回复：订单{order_id} | 求助"
)
_FRUSTRATIONS = items(
    "真的很无语。 | 都等了这么久了！ | 请今天给我答复。 | 这已经是我第三次联系你们了。 | 太失望了。 | "
    "再不处理我就投诉了！ | 能不能快点？"
)
_KITCHEN = items(
    "铸铁平底锅 | 电热水壶 | 法压壶 | 厨师机 | 竹砧板 | 陶瓷餐具套装 | 烤面包机 | 不锈钢锅具套装 | 玻璃密封罐"
)
_GADGETS = items(
    "无线耳机 | 充电宝 | 蓝牙音箱 | 无线充电器 | USB-C扩展坞 | 降噪耳机 | 摄像头 | 智能插座 | 机械键盘"
)
_GARMENTS = items("亚麻衬衫 | 羊毛毛衣 | 冲锋衣 | 棉质卫衣 | 连衣裙 | 抓绒外套 | 针织开衫 | 羽绒服")
_SURNAMES = items(
    "王 | 李 | 张 | 刘 | 陈 | 杨 | 黄 | 赵 | 吴 | 周 | 徐 | 孙 | 马 | 朱 | 胡 | 郭 | 林 | 何 | 高 | 罗"
)
_GIVEN = items(
    "伟 | 芳 | 娜 | 敏 | 静 | 磊 | 洋 | 艳 | 勇 | 杰 | "
    "婷 | 强 | 晨 | 雪 | 浩然 | 子涵 | 欣怡 | 一鸣 | 思远 | 佳琪"
)
_PINYIN = {"王": "wang", "李": "li", "张": "zhang", "刘": "liu", "陈": "chen", "杨": "yang", "黄": "huang",
           "赵": "zhao", "吴": "wu", "周": "zhou", "徐": "xu", "孙": "sun", "马": "ma", "朱": "zhu",
           "胡": "hu", "郭": "guo", "林": "lin", "何": "he", "高": "gao", "罗": "luo"}  # fmt: skip
_AGENTS = items("小王 | 小李 | 小陈 | Lena | 小张 | Grace | 小周")
# Chinese-speaking customers whose helpdesk profile carries a Latin name ("Kevin Zhang"): their tickets
# must still get Chinese replies, so the name cannot be what tells a model the language
_LATIN_GIVEN = items(
    "Kevin | Amy | Jason | Emily | Alex | Tony | Cindy | Jack | Lily | Michael | Vivian | Leo"
)
LATIN_NAME_SHARE = 0.2
_DISTRICTS = {  # city → districts that are really in it
    "上海": ("浦东新区", "徐汇区", "静安区"),
    "北京": ("朝阳区", "海淀区", "东城区"),
    "深圳": ("南山区", "福田区", "宝安区"),
    "杭州": ("西湖区", "滨江区", "拱墅区"),
    "成都": ("武侯区", "锦江区", "高新区"),
    "广州": ("天河区", "越秀区", "海珠区"),
    "南京": ("鼓楼区", "玄武区", "建邺区"),
    "武汉": ("江汉区", "武昌区", "洪山区"),
    "西安": ("雁塔区", "碑林区", "未央区"),
    "苏州": ("工业园区", "姑苏区", "吴中区"),
}
_CITIES = tuple(_DISTRICTS)
_ROADS = items("人民路 | 建设路 | 中山路 | 解放路 | 文一路 | 科技园路 | 长江路 | 新华街 | 和平路 | 学府路")
_CARRIERS = items("顺丰 | 中通 | 圆通 | 韵达 | 京东物流 | EMS | 申通")
_TRACKING_PREFIXES = ("SF", "ZT", "YT", "YD", "JD", "EMS")
_PAYMENTS = items("招商银行信用卡 | 建设银行储蓄卡 | 工商银行卡 | 支付宝 | 微信支付 | 花呗")
_COMPANIES = items(
    "深圳市蓝田设计有限公司 | 上海和光贸易有限公司 | 杭州云帆科技有限公司 | 北京青禾文化传媒有限公司"
)
_CODE_PREFIXES = items("WELCOME | NEW | VIP | DOUBLE11 | SPRING | HOME")
_COLORS = items("藏青色 | 橄榄绿 | 炭灰色 | 米色 | 酒红色 | 白色")
_WEEKDAYS = items("周一 | 周二 | 周三 | 周四 | 周五 | 周六 | 周日")
_GREETINGS = items(
    "您好， | 你好， | 在吗？ | 客服你好， | 亲，在吗？ | 您好，客服， | 你好{agent}， | 打扰了，"
)
_SIGN_OFFS = items(
    "谢谢！ | 麻烦尽快处理，谢谢。 | 辛苦了！ | 谢谢\n{name} | 发自我的iPhone | 等你们回复。 | "
    "{name}\n订单账号：{email} | 期待回复，谢谢！"
)
_ASIDE_RATE = 0.19
_FRUSTRATED = frozenset(
    items(
        "account_locked | complaint | damaged_item | discount_code | payment_failed | refund_request | "
        "warranty_claim | where_is_my_order"
    )
)
_CHAT_PUNCTUATION = re.compile(r"[，。！？、；：]+")


def _amount(rng: random.Random) -> str:
    yuan = rng.randint(29, 1999)
    return f"{yuan}元" if rng.random() < 0.5 else f"¥{yuan}.{rng.choice(('00', '90', '50'))}"


def _name(rng: random.Random, surname: str) -> str:
    if rng.random() < LATIN_NAME_SHARE:
        return f"{rng.choice(_LATIN_GIVEN)} {_PINYIN[surname].title()}"
    return surname + rng.choice(_GIVEN)


def _slots(rng: random.Random) -> dict[str, str]:
    surname = rng.choice(_SURNAMES)
    name = _name(rng, surname)
    city = rng.choice(_CITIES)
    pct = rng.choice((10, 15, 20, 30))
    return {
        "order_id": f"NW-{rng.randint(10000, 99999)}",
        "other_order": f"NW-{rng.randint(10000, 99999)}",
        "product": rng.choice(_KITCHEN + _GADGETS + _GARMENTS),
        "kitchen": rng.choice(_KITCHEN),
        "gadget": rng.choice(_GADGETS),
        "garment": rng.choice(_GARMENTS),
        "amount": rng.choice(
            (f"{rng.randint(29, 1999)}元", f"¥{rng.randint(29, 1999)}.{rng.choice(('00', '90', '50'))}")
        ),
        "date": f"{rng.randint(1, 12)}月{rng.randint(1, 28)}日",
        "weekday": rng.choice(_WEEKDAYS),
        "city": city,
        "address": f"{city}市{rng.choice(_DISTRICTS[city])}{rng.choice(_ROADS)}{rng.randint(1, 300)}号",
        "days": str(rng.randint(4, 21)),
        "weeks": str(rng.randint(2, 6)),
        "months": str(rng.randint(3, 20)),
        "card": rng.choice(_PAYMENTS),
        "carrier": rng.choice(_CARRIERS),
        "tracking": f"{rng.choice(_TRACKING_PREFIXES)}{rng.randint(10**11, 10**12 - 1)}",
        "code": f"{rng.choice(_CODE_PREFIXES)}{pct}",
        "percent": str(pct),
        "invoice_no": f"INV-{rng.choice((2025, 2026))}-{rng.randint(1000, 9999)}",
        "company": rng.choice(_COMPANIES),
        "size": rng.choice(("S", "M", "L", "XL")),
        "color": rng.choice(_COLORS),
        "qty": str(rng.randint(2, 6)),
        "errcode": str(rng.randint(100, 999)),
        "agent": rng.choice(_AGENTS),
        "name": name,
        "email": f"{_PINYIN[surname]}{rng.randint(1, 999)}@example.com",
    }


def _impatient(body: str, rng: random.Random) -> str:
    """An exasperated remark after the body, or its last stop turned into "！！"/"？？"."""
    if rng.random() < 0.5:
        stop = "" if body.endswith(("。", "！", "？")) else "。"
        return body + stop + rng.choice(_FRUSTRATIONS)
    return body.rstrip("。！？") + rng.choice(("！！", "？？", "！"))


def _core(intent: str, slots: dict[str, str], rng: random.Random) -> tuple[str, bool]:
    body = rng.choice(_SPECS[intent].bodies).format_map(slots)
    frustrated = intent in _FRUSTRATED and rng.random() < 0.18
    if frustrated:
        body = _impatient(body, rng)
    if rng.random() < _ASIDE_RATE:
        other = rng.choice([i for i in INTENTS if i != intent])
        aside = rng.choice(_SPECS[other].asides).format_map(slots)
        if len(body) >= 1.5 * len(aside):  # the secondary intent stays clearly less prominent
            body = body.rstrip() + ("" if body.endswith(("。", "！", "？")) else "。") + aside
    return body, frustrated


def _ticket(intent: str, rng: random.Random) -> DemoTicket:
    slots = _slots(rng)
    core, frustrated = _core(intent, slots, rng)
    if rng.random() < 0.15:  # chat style: no punctuation, spaces instead
        core = _CHAT_PUNCTUATION.sub(" ", core).strip()
    body = core
    if rng.random() < 0.5:  # a short message keeps its greeting on the same line
        greeting = rng.choice(_GREETINGS).format_map(slots)
        body = greeting + ("\n" if len(core) > 40 else "") + body
    if rng.random() < 0.5:
        body += "\n" + rng.choice(_SIGN_OFFS).format_map(slots)
    pool = _GENERIC_SUBJECTS if rng.random() < 0.15 else _SPECS[intent].subjects
    subject = rng.choice(pool).format_map(slots)
    if intent in _FRUSTRATED and rng.random() < 0.05:
        subject = "【紧急】" + subject
        frustrated = True
    return DemoTicket(
        text=f"{subject}\n\n{body}",
        subject=subject,
        body=body,
        label=intent,
        customer_name=slots["name"],
        customer_email=slots["email"],
        sentiment=sentiment_for(intent, frustrated),
        priority=priority_for(intent, frustrated),
    )


def generate_tickets_zh(*, per_intent: int = 80, seed: int = 13) -> list[DemoTicket]:
    """`per_intent` unique Chinese tickets for every intent in `INTENTS` (not shuffled: the caller mixes)."""
    if set(_SPECS) != set(INTENTS):
        raise RuntimeError("the Chinese demo intents differ from the English ones")
    return unique_tickets(_ticket, per_intent=per_intent, rng=random.Random(seed))
