"""Fallback replies per intent, used when the generator is unavailable or its draft is flagged.

They promise nothing that needs a number, an id or a link, so they are always grounded.
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
    "return_item": "Thank you for getting in touch about a return. We will send you the return "
    "instructions and a prepaid label shortly.",
    "damaged_item": "I'm sorry that your item arrived damaged. We will arrange a replacement or a refund, "
    "whichever you prefer; a photo of the damage helps us process it faster.",
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


def fallback_reply(*, intent: str | None, customer_name: str | None) -> str:
    name = (customer_name or "").split(" ")[0].strip() or "there"
    body = BY_INTENT.get(intent or "", GENERIC)
    return f"{GREETING.format(name=name)}\n\n{body}\n\n{SIGN_OFF}"
