"""Seeded generator of realistic demo customer-support tickets for "Northwind Goods".

Northwind Goods is a fictional online shop selling home & kitchen items, electronics accessories
and clothing. The tickets produced here bootstrap the intent classifier and feed the tests.

Each ticket is built from a hand-written body template for its primary intent, with slots
(order ids, products, amounts, carriers, ...) filled from a ``random.Random(seed)`` instance,
then passed through random variation layers: greetings, sign-offs, casual lowercase writing,
typos, frustration markers and, for roughly one ticket in ten, a short secondary sentence that
belongs to another intent (the label always stays the primary intent). With ``realism``
(``demo_realism``; the `demo-data` command's default) some tickets become e-mail threads quoting an
earlier request, two requests in one (labelled either), or vague.

Output is fully deterministic for a given seed and never depends on the clock.

Usage::

    python services/trainer/demo_data.py --out data/demo.jsonl --per-intent 80 --seed 13
"""

import argparse
import csv
import json
import pathlib
import random
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

if TYPE_CHECKING:
    from services.trainer.demo_realism import Realism


class IntentSpec(NamedTuple):
    subjects: tuple[str, ...]
    bodies: tuple[str, ...]
    asides: tuple[str, ...]


def items(text: str) -> tuple[str, ...]:
    """Split a " | "-separated list; keeps the data tables below compact."""
    return tuple(item.strip() for item in text.split("|"))


_SPECS: dict[str, IntentSpec] = {
    "cancel_order": IntentSpec(
        subjects=items(
            "Cancel order {order_id} | Please cancel my order | cancellation request | "
            "Need to cancel before it ships | Cancel my purchase | Changed my mind - {order_id}"
        ),
        bodies=(
            "please cancel order {order_id}, ordered by mistake",
            "Can you cancel my order {order_id}? I don't need it anymore.",
            "cancel {order_id} pls. havent been charged yet i hope",
            "I placed the same order twice by accident. Please cancel {order_id} and keep the other one.",
            "I ordered the {product} on {date} (order {order_id}) but found it cheaper locally. It still "
            "says 'processing', so I hope it hasn't shipped yet. Could you please cancel the whole order "
            "before it goes out?",
            "I would like to cancel my order {order_id}. My partner already bought the same {kitchen} as a "
            "gift, so we don't need a second one.\n\nIf it has already been dispatched, let me know the "
            "options, but ideally stop it before it leaves the warehouse.",
            "Order {order_id} was placed {days} days ago and still hasn't shipped. At this point I'd rather "
            "just cancel it and buy elsewhere. Please confirm the cancellation and that my {card} won't be "
            "charged.",
            "I just placed order {order_id} for {qty} x {garment} and picked completely the wrong items. "
            "It's easier to cancel the order and start again. Can you stop it please?",
            "Is it still possible to cancel an order? Order number {order_id}, total {amount}.\n\nMy plans "
            "have changed and I won't be able to use it. Please cancel it rather than changing the delivery "
            "address, I really don't want it any more.",
            "My son ordered the {gadget} on my account without asking (order {order_id}). Please cancel it "
            "before it ships. I did not authorise this purchase.",
            "Please withdraw my order {order_id} placed on {date}. I no longer want the items. If there's a "
            "small fee that's fine, just don't send the parcel.",
            "I need to call off order {order_id}. The delivery estimate of {weeks} weeks is far too long, I "
            "needed it for an event this weekend.\n\nPlease cancel it and release the payment hold on my "
            "{card}.",
        ),
        asides=items(
            "PS: please also cancel {other_order}, I ordered that one by mistake. | "
            "Also, if it's easier, you can just cancel my other order {other_order} too."
        ),
    ),
    "change_address": IntentSpec(
        subjects=items(
            "Wrong shipping address | Change delivery address for {order_id} | Update address on my order | "
            "Moved house - new address | Address correction | Typo in my address"
        ),
        bodies=(
            "I put the wrong address on order {order_id}. It should go to {address}.",
            "can u change the delivery address to {address}? order {order_id}",
            "Typo in my street number on {order_id}, the correct address is {address}.",
            "Please ship order {order_id} to my work address instead: {address}.",
            "I just realised order {order_id} is going to my old flat. I moved to {city} last month and "
            "forgot to update my account.\n\nNew address:\n{address}\n\nCan you change it before it ships? "
            "I still want the order, just at the new place.",
            "Could you update the shipping address on my recent order ({order_id})? I'd like it delivered "
            "to my parents' place at {address}, since I'll be staying there for {weeks} weeks.",
            "The checkout auto-filled my billing address as the delivery address. Order {order_id} should "
            "go to {address}, not the billing one. Can you redirect it, or do I need to contact {carrier}?",
            "I'm going to be away when the {product} arrives. Can the delivery address for {order_id} be "
            "changed to my neighbour's house: {address}? Same name on the label is fine.",
            "Order {order_id}: the apartment number is missing from the address, so the courier won't find "
            "me. Please correct it, the full address is {address}. Don't cancel the order, I still need it!",
            "I'd like to reroute my parcel. It's order {order_id} and according to the status page it "
            "hasn't left your warehouse yet.\n\nPlease send it to {address} instead of the address on file.",
            "Please update the postcode on order {order_id}. I entered the wrong one by mistake; the "
            "correct full address is {address}.",
            "We are relocating the office next week, so please change the shipping address on order "
            "{order_id} ({qty} items) to {address}. The invoice details can stay as they are.",
        ),
        asides=items(
            "By the way, I've moved, so future deliveries should go to {address}. | "
            "Also, please update the address on my account to {address} for next time."
        ),
    ),
    "where_is_my_order": IntentSpec(
        subjects=items(
            "Where is my order? | Order {order_id} not arrived | Tracking not updating | "
            "Still waiting for my package | Delivery status {order_id} | where is my parcel?? | "
            "Late delivery"
        ),
        bodies=(
            "where is my parcel??",
            "Order {order_id} still hasn't arrived. It's been {days} days.",
            "tracking {tracking} hasnt moved since {weekday}. whats going on",
            "Any update on {order_id}? It was supposed to arrive on {date}.",
            "I ordered a {product} on {date} (order {order_id}) and the confirmation said delivery within "
            "3-5 working days. It has now been {days} days and nothing has arrived.\n\nThe {carrier} "
            "tracking number {tracking} just says 'label created'. Can you check what's happening?",
            "My tracking says the parcel was delivered yesterday, but there's nothing at my door, with the "
            "neighbours or in the mailbox. Order {order_id}, shipped with {carrier}. Where did it go?",
            "Could you tell me when order {order_id} will ship? It has been 'processing' for {days} days "
            "and I need the {garment} for a trip on {date}.",
            "The {carrier} tracking for {tracking} has been stuck on 'in transit' for over a week. I'm in "
            "{city}. Is the package lost? I just want to know where it is and when I'll get it.",
            "I'm still waiting for my order {order_id}. I paid {amount} on {date}. No shipping email, no "
            "tracking number, nothing.\n\nCan someone look into this and give me an estimated delivery date?",
            "The website says my order was dispatched but the tracking link gives an error. Order "
            "{order_id}. Which carrier is it with and what's the tracking number?",
            "Part of my order arrived (the {kitchen}) but the {gadget} is missing. Was it sent separately? "
            "Order {order_id}, and I only got one tracking number.",
            "Expected delivery for {order_id} was {weekday}. Today the status changed to 'delayed' with no "
            "explanation. When can I actually expect it?",
        ),
        asides=items(
            "Also, any idea when my other order {other_order} will arrive? | "
            "btw my other order {other_order} still hasn't shown up either."
        ),
    ),
    "refund_request": IntentSpec(
        subjects=items(
            "Refund request | Where is my refund? | Money back for order {order_id} | Charged twice | "
            "Refund not received | Requesting a refund"
        ),
        bodies=(
            "I'd like a refund for order {order_id} please.",
            "I returned the {product} {weeks} weeks ago and still no refund. Where is my money?",
            "i was charged twice for {order_id}, please refund one of the payments",
            "Please refund the {amount} for order {order_id} back to my {card}.",
            "I sent back the {garment} from order {order_id} on {date} and the {carrier} tracking shows you "
            "received it {days} days ago. I still haven't seen the {amount} back on my {card}. How long do "
            "refunds usually take?",
            "My order {order_id} was cancelled by you because the item was out of stock, but the payment of "
            "{amount} was taken from my account anyway. Please refund it as soon as possible.",
            "I'd like my money back for the {gadget}. It doesn't do what the product page promised.\n\nI "
            "don't want a replacement or store credit, just a refund of {amount} to the original payment "
            "method.",
            "Looking at my bank statement I can see two charges of {amount} on {date}, but I only placed "
            "one order ({order_id}). Please refund the duplicate charge.",
            "You only refunded part of what I paid. The order total was {amount} including shipping, but I "
            "only got the item price back. Shipping should be refunded too since the item was faulty. Order "
            "{order_id}.",
            "The parcel for {order_id} never arrived and {carrier} confirmed it was lost. Please don't "
            "resend it - I'd rather have a full refund.",
            "One of your agents promised me a refund on {date} for order {order_id} ({amount}). Nothing has "
            "shown up on my {card} yet.\n\nCould you check that it was actually processed?",
            "The price of the {kitchen} dropped by {percent}% a few days after I bought it. Could you "
            "refund the difference? Order {order_id}.",
        ),
        asides=items(
            "Also, I'm still waiting on a refund for {other_order}. | "
            "PS I never got the refund for my earlier order {other_order} either."
        ),
    ),
    "return_item": IntentSpec(
        subjects=items(
            "Return request | How do I return an item? | Return label needed | "
            "Exchange for a different size | Want to send back {order_id} | Returning my purchase"
        ),
        bodies=(
            "How do I return the {garment}? It doesn't fit.",
            "can i get a return label for order {order_id}",
            "I'd like to send back the {product}, still unopened. What's the process?",
            "Is it too late to return something I bought on {date}?",
            "I bought a {garment} in size {size} (order {order_id}) but it's too small. I'd like to "
            "exchange it for the next size up. Do I need to ship it back first or can you send the new one "
            "straight away?",
            "I'd like to return the {kitchen} from order {order_id}. It works fine, it's just bigger than I "
            "expected and doesn't fit on my counter.\n\nCould you email me a prepaid return label? I can "
            "drop it off at any {carrier} point.",
            "What's your return policy for electronics? I bought the {gadget} {days} days ago, opened the "
            "box but never used it. I want to send it back.",
            "I received the {color} {garment} twice in order {order_id} and only want to keep one. How do I "
            "return the other one? Do I have to pay the return postage?",
            "I printed the return label from my account but the {carrier} drop-off point says it's invalid. "
            "I'm trying to send back order {order_id}. Can you issue a new label?",
            "The {product} was a gift and the recipient already has one. Can it be returned for store "
            "credit without a receipt? The order number is {order_id}.",
            "I'd like to start a return for {qty} items from order {order_id}. They're all in the original "
            "packaging with tags attached.\n\nPlease let me know which address to ship them to.",
            "I want to return the {gadget} because the colour looks different from the photos. Nothing "
            "wrong with it otherwise. Is the return free or is there a restocking fee?",
        ),
        asides=items(
            "Also, how do I return the {garment} from a previous order? | "
            "PS can I still send back the {product} from my last order?"
        ),
    ),
    "damaged_item": IntentSpec(
        subjects=items(
            "Item arrived broken | Damaged on arrival | Received a damaged product | "
            "Broken item in my parcel | Order {order_id} arrived damaged | Arrived cracked and unusable"
        ),
        bodies=(
            "The {kitchen} arrived cracked. Order {order_id}.",
            "my parcel came smashed and the {product} inside is broken",
            "The {gadget} was in pieces when I opened the box.",
            "Received order {order_id} today, the box was crushed and the item is dented.",
            "My order {order_id} arrived this morning via {carrier}. The outer box was soaked and torn, and "
            "the {kitchen} inside has a large crack along the side.\n\nI've taken photos of the packaging "
            "and the item. Can you send a replacement?",
            "I opened the {gadget} I received on {date} and the casing is cracked and one of the ports is "
            "bent. It looks like it was dropped in transit. I'd prefer a replacement rather than a refund.",
            "The {garment} in my order has a big tear at the seam and a stain on the front. It came "
            "straight out of the sealed bag like that. Order {order_id}. What should I do?",
            "Two of the glasses in the set were broken into pieces when the parcel arrived. The packaging "
            "was just a thin bag with no padding. Please replace the broken ones. Order {order_id}.",
            "I'm sorry to say the {product} arrived damaged. There are deep scratches all over it and a "
            "piece is missing. Photos attached.\n\nOrder {order_id}, delivered on {date}.",
            "The lid of the {kitchen} had snapped off when I unpacked it, with bits of plastic all over the "
            "box. I haven't used it at all. Please advise how to get one that isn't broken.",
            "The {gadget} arrived with a dent in the corner and it rattles when I shake it, something "
            "inside is clearly loose. It won't turn on. It's brand new, delivered on {weekday}.",
            "{carrier} left the delivery for {order_id} outside in the rain. When I opened it the {garment} "
            "was soaked and the dye had run, so it's ruined. I need a replacement sent out.",
        ),
        asides=items(
            "Also, one item from an earlier order arrived scratched, not a big deal though. | "
            "PS the {kitchen} from my last order also had a small chip when it arrived."
        ),
    ),
    "warranty_claim": IntentSpec(
        subjects=items(
            "Warranty claim | Stopped working after a few months | Faulty item under warranty | "
            "Is this covered by warranty? | Defective product - warranty"
        ),
        bodies=(
            "My {gadget} stopped charging after {months} months. Is it covered by the warranty?",
            "The {kitchen} I bought last year has died. Still under warranty I think. Order {order_id}.",
            "warranty claim for {product}, bought {months} months ago, no longer works",
            "How do I make a warranty claim? The {gadget} has developed a fault.",
            "I bought a {kitchen} from you about {months} months ago (order {order_id}). It worked "
            "perfectly until last week, and now it makes a grinding noise and stops after a few seconds.\n\n"
            "I believe it is still within the 2-year warranty. What do you need from me to get it repaired "
            "or replaced?",
            "The {gadget} I bought on {date} last year no longer holds a charge for more than 20 minutes. "
            "I've used it normally and never dropped it. Can I claim this under the warranty through you?",
            "After {months} months of normal use the zip on my {garment} has completely broken. For the "
            "price I paid ({amount}) I'd expect it to last longer. Does your quality guarantee cover this?",
            "I'd like to file a warranty claim. The {gadget} (order {order_id}) has started cutting out and "
            "turning itself off. I still have the receipt and original box. Where should I send it for "
            "repair?",
            "My {kitchen} has stopped working and it's only {months} months old. The manufacturer told me "
            "to go through the retailer for warranty issues. Can you help with the process?",
            "Is the one-year warranty on the {gadget} still valid if I bought it as a gift for someone "
            "else? It has stopped connecting via Bluetooth and a factory reset didn't help.",
            "The non-stick coating on the frying pan I bought from you is peeling after only {months} "
            "months, and I've followed the care instructions.\n\nThis looks like a manufacturing defect. "
            "I'd like a replacement under warranty.",
            "Our {gadget} broke down after {months} months. No physical damage, it just won't power on "
            "anymore. We registered it for the extended warranty when we bought it (order {order_id}). How "
            "do we proceed?",
        ),
        asides=items(
            "Also, is the {gadget} I bought last year still under warranty? | "
            "Unrelated, but my {kitchen} is acting up too - is that covered by the warranty?"
        ),
    ),
    "complaint": IntentSpec(
        subjects=items(
            "Very disappointed | Complaint about your service | Terrible customer service | Not happy | "
            "Formal complaint | Unacceptable experience"
        ),
        bodies=(
            "Your customer service is the worst I've dealt with. Three emails and not a single reply.",
            "Really disappointed with Northwind lately. The quality has gone downhill.",
            "the chat agent was incredibly rude to me today. not ok.",
            "I want to make a formal complaint about how my case was handled.",
            "I've been a customer for years, but my last few experiences have been awful. I waited {days} "
            "days for a reply to a simple question, and when someone finally answered they clearly hadn't "
            "read my message. I expect much better from a company like yours.",
            "I want to complain about your packaging. A small {gadget} came in a huge box stuffed with "
            "plastic air pillows. It's wasteful and frankly embarrassing these days.\n\nPlease pass this on "
            "to whoever is responsible.",
            "I spoke to one of your agents on {date} and was told I'd get a call back within 24 hours. "
            "Nobody called. Then I was transferred three times and had to explain everything from the start "
            "each time. This is not how you treat customers.",
            "Your website is a mess. The filters don't work, items listed as in stock turn out to be "
            "unavailable after checkout, and the app shows different prices than the site. I spent an hour "
            "trying to order a {kitchen} and gave up.",
            "I'm writing to express my frustration with your delivery partner {carrier}. The driver threw "
            "my parcel over the fence and was rude when I asked him to be more careful. I know they're not "
            "your staff, but you chose them.",
            "The quality of your clothing has really gone down. The {garment} I just bought feels much "
            "thinner than the one I got from you a couple of years ago, and for {amount} that's not "
            "acceptable. I'm starting to look at other shops.",
            "I'm very unhappy with how my previous issue (order {order_id}) was handled. It took {weeks} "
            "weeks and four emails to resolve something that should have taken one.\n\nI'd like this "
            "complaint escalated to a manager.",
            "You keep sending me marketing emails even though I've unsubscribed twice, and now I get text "
            "messages I never signed up for. Honestly, this makes me not want to shop with you again.",
        ),
        asides=items(
            "Honestly, the customer service experience has been disappointing lately. | "
            "To be frank, your response times have not been great recently."
        ),
    ),
    "praise": IntentSpec(
        subjects=items(
            "Thank you! | Great service | Just wanted to say thanks | Love my new purchase | "
            "Compliments to your team | Happy customer"
        ),
        bodies=(
            "Just wanted to say the {product} is fantastic. Thanks!",
            "Super fast delivery, arrived the next day. Great job!",
            "Thank you {agent} for sorting out my problem so quickly yesterday.",
            "love love love the {garment}, fits perfectly",
            "I just wanted to drop a quick note to say thank you. I ordered the {kitchen} on {date} and it "
            "arrived two days later, beautifully packed. It's even better quality than I expected. I'll "
            "definitely be ordering again.",
            "I had an issue with an earlier order and {agent} from your support team handled it "
            "brilliantly: friendly, fast and no hassle.\n\nIt's rare to get service like that these days, "
            "so please pass on my thanks.",
            "Credit where it's due: the {gadget} I bought from you has been excellent. Works exactly as "
            "described and it was cheaper than anywhere else. Keep it up!",
            "We've furnished most of our new kitchen with Northwind Goods and every single item has been "
            "great. The {kitchen} in particular gets used every day. Thank you for making quality stuff at "
            "a fair price.",
            "Your {carrier} driver today was so kind - he carried the heavy box up three flights of stairs "
            "for my elderly mother. Please let them know it was really appreciated.",
            "I was nervous about buying clothes online, but the {garment} fits perfectly and the size guide "
            "was spot on. The fabric feels lovely.\n\nThanks for the handwritten note in the parcel too!",
            "Just a quick thank you for the easy return last month. I got my refund within {days} days with "
            "zero fuss, which is why I've just placed another order ({order_id}).",
            "I rarely write emails like this, but I'm genuinely impressed. Ordered late on {weekday}, had "
            "it by the next afternoon, and all the packaging was recyclable. Brilliant work, Northwind team.",
        ),
        asides=items(
            "Otherwise I really love your products, keep it up. | "
            "By the way, the {kitchen} I got from you last month is great."
        ),
    ),
    "product_question": IntentSpec(
        subjects=items(
            "Question about one of your products | Product question | Before I buy | Is this compatible? | "
            "Sizing question | Quick question about an item"
        ),
        bodies=(
            "Is the {kitchen} dishwasher safe?",
            "does the {gadget} work with both iPhone and Android?",
            "Does the {garment} run small or is it true to size?",
            "Do you have the {garment} in {color}?",
            "I'm thinking about buying the {kitchen} but I can't find the dimensions on the product page. "
            "Could you tell me the height and width, and whether it's suitable for induction hobs?",
            "Before I order the {gadget}, can you confirm it supports USB-C power delivery and comes with a "
            "cable? The description is a bit vague and I'd like to avoid having to send it back.",
            "What material is the {garment} made of? I have a wool allergy, so I need to know if there's "
            "any wool blend in it.\n\nAlso, is it machine washable?",
            "I'm looking at the {product} as a gift. Will it be back in stock before {date}? The page says "
            "'coming soon' but gives no date.",
            "Does the {gadget} come with a UK plug or an EU plug? I'm based in {city} and want to be sure "
            "it works without an adapter.",
            "I usually wear a {size}. Would you recommend the same size in the {garment}, or should I size "
            "up? The reviews are mixed on the fit.",
            "Can the {kitchen} go in the oven, and if so up to what temperature? I also wanted to ask "
            "whether the handles get hot.",
            "Is the {gadget} on your site the latest model? I see different model numbers elsewhere and "
            "want to be sure I'm getting the current version with the longer warranty.",
        ),
        asides=items(
            "Also, do you sell replacement parts for the {kitchen}? | "
            "Quick unrelated question: does the {garment} come in {color}?"
        ),
    ),
    "account_locked": IntentSpec(
        subjects=items(
            "Can't log in | Account locked | Locked out of my account | Password reset not working | "
            "Login problem | Account suspended?"
        ),
        bodies=(
            "I'm locked out of my account after too many login attempts. Please unlock it.",
            "cant log in, it says my account is locked",
            "The password reset email never arrives. I've checked my spam folder.",
            "My account {email} has been blocked. Why?",
            "I tried to log in this morning and got a message saying my account has been temporarily locked "
            "for security reasons. I haven't changed anything. My email is {email}. Can you unlock it so I "
            "can check on order {order_id}?",
            "I've forgotten my password and the 'reset password' link says my account is disabled. I have "
            "{amount} of store credit on there, so I really need access. Please help me get back in.",
            "I keep getting 'invalid verification code' when I log in with two-factor authentication. I "
            "changed phones recently and the old number is no longer active.\n\nHow can I regain access to "
            "my account?",
            "Your site locked my account after I mistyped my password a few times. It said to wait 30 "
            "minutes, but it's been {days} days and it's still locked. Email on the account: {email}.",
            "I received an email saying someone tried to access my account from {city}, and now I can't "
            "sign in at all. I'm worried it was hacked. Please secure it and help me reset my login.",
            "Every time I enter my email and password the page reloads and takes me back to the login "
            "screen. I've tried two browsers and cleared my cookies. I can't get into my account to see my "
            "orders.",
            "My account was suspended without any explanation. I've been a customer for years and never had "
            "an issue.\n\nI can't log in or place orders. Could you tell me why and reactivate it?",
            "I changed my email address to {email} in my profile and now neither the old nor the new one "
            "works for logging in. The system says 'account not found'. Help!",
        ),
        asides=items(
            "Also, I can't seem to log in to my account at the moment. | "
            "PS the site keeps saying my account is locked when I try to sign in."
        ),
    ),
    "invoice_request": IntentSpec(
        subjects=items(
            "Invoice request | Need a VAT invoice | Receipt for order {order_id} | "
            "Invoice with company details | Copy of invoice please"
        ),
        bodies=(
            "Can I get an invoice for order {order_id}?",
            "please send me a receipt for {order_id}, i need it for expenses",
            "I need a VAT invoice for my last purchase.",
            "Where can I download the invoice for my order?",
            "I bought a {gadget} for work (order {order_id}, {amount}) and my employer needs a proper "
            "invoice with your VAT number for the reimbursement. The order confirmation email isn't "
            "accepted. Could you send one?",
            "Please could you reissue the invoice for order {order_id} with our company name on it:\n\n"
            "{company}\n{address}\n\nThe current one only shows my personal name.",
            "I need copies of the invoices for all my orders from the last {months} months for my tax "
            "return. Can I download them in bulk, or could you email them to me?",
            "The invoice attached to my order confirmation shows the wrong total ({amount}) - it doesn't "
            "include the discount I got. Can you send a corrected invoice?",
            "Our accounts department needs an itemised version of invoice {invoice_no}, showing unit prices "
            "and tax separately. The summary receipt isn't enough for them.",
            "I paid by bank transfer for order {order_id} and haven't received any invoice or receipt. "
            "Could you please email one to {email}?",
            "I need a pro forma invoice for {qty} units of the {kitchen} before my company can approve the "
            "purchase.\n\nCan you prepare one and send it over?",
            "The invoice for order {order_id} is in my old name. I recently got married, so could you issue "
            "it under my current name, {first} {last}?",
        ),
        asides=items(
            "also, can I get an invoice for it? | "
            "Also, please send me the invoice for this order when you get a chance."
        ),
    ),
    "payment_failed": IntentSpec(
        subjects=items(
            "Payment declined | Payment failed at checkout | Card not accepted | Error when paying | "
            "Can't complete my order | PayPal payment not working"
        ),
        bodies=(
            "My {card} keeps getting declined at checkout but the bank says there's nothing wrong.",
            "payment failed 3 times, cant place my order",
            "Checkout says 'payment could not be processed'. What am I doing wrong?",
            "PayPal won't go through on your site. Tried twice now.",
            "I'm trying to buy the {kitchen}, but every time I get to the payment step it says 'transaction "
            "declined'. I've tried my {card} and my partner's card, and the bank confirms there's no block "
            "on their side. Is something wrong with your payment system?",
            "I tried to pay and got an error, but {amount} has been reserved on my {card}. There's no order "
            "in my account though.\n\nDid the payment go through or not? I don't want to order twice.",
            "The 3D Secure verification window never appears when I pay, it just spins and then times out. "
            "I've tried on my phone and my laptop. I really want to order the {gadget} before the sale ends.",
            "I'm trying to use Apple Pay at checkout and it fails with 'payment not completed'. Normal card "
            "payments fail too. Is there an issue with international cards? I'm ordering from {city}.",
            "Your site won't accept my gift card together with my {card}. The gift card covers part of the "
            "{amount}, but paying the rest fails every time. How can I split the payment?",
            "I chose pay later for my order of {amount} and it was rejected without any reason given. Can I "
            "pay another way and still get the sale price?",
            "My payment keeps failing with error code PAY-{errcode}. I've checked the billing address "
            "matches my bank exactly.\n\nPlease help me complete the order, the {product} is almost sold "
            "out.",
            "Your email says payment for order {order_id} failed and the order will be cancelled in {days} "
            "days unless I update my payment details. But the page to update payment just shows an error.",
        ),
        asides=items(
            "Also, my card was declined the first time I tried to pay, not sure why. | "
            "PS the checkout threw a payment error twice before it finally worked."
        ),
    ),
    "discount_code": IntentSpec(
        subjects=items(
            "Discount code not working | Promo code {code} | Coupon problem | Forgot to apply my code | "
            "Any discount codes? | Voucher invalid"
        ),
        bodies=(
            "The code {code} says invalid at checkout.",
            "forgot to use my {percent}% off code on {order_id}, can you still apply it?",
            "Do you have a student discount or any promo code at the moment?",
            "my discount code doesnt work",
            "I received {code} in your newsletter for {percent}% off, but at checkout it says 'this code is "
            "not valid for items in your basket'. I'm only buying a {kitchen}, which isn't on sale. Can you "
            "help?",
            "I placed order {order_id} an hour ago and completely forgot to enter my welcome code {code}. "
            "Is there any way you can apply the {percent}% discount retroactively?",
            "Your Instagram ad promised {percent}% off for new customers, but I never got the code after "
            "signing up. Could you send it to {email}?",
            "The promo code {code} was accepted but the total only went down a tiny bit, not {percent}% as "
            "advertised.\n\nIs the discount only valid on certain items?",
            "I have a birthday voucher in my account but it won't combine with the free-shipping code. Is "
            "it possible to use both on one order?",
            "My code {code} says it has expired, but the email said it's valid until {date}, which hasn't "
            "passed yet. Could you reactivate it or send me a new one?",
            "Your support team gave me a {percent}% goodwill code after my last issue, but it says 'already "
            "used'. I definitely haven't used it. Can you reissue it?",
            "Is there a discount for bulk orders? I'd like to buy {qty} of the {product} for our office and "
            "wondered if there's a code or business discount available.",
        ),
        asides=items(
            "Also, my discount code didn't seem to apply, could you check? | "
            "PS do you have any promo codes running at the moment?"
        ),
    ),
}

INTENTS: tuple[str, ...] = tuple(sorted(_SPECS))

_GENERIC_SUBJECTS = items(
    "Order {order_id} | Hello | Support request | Customer enquiry | (no subject) | Message from {first} | "
    "Re: Order {order_id} | Help please"
)
_FRUSTRATED_INTENTS = frozenset(
    items(
        "account_locked | complaint | damaged_item | discount_code | payment_failed | refund_request | "
        "warranty_claim | where_is_my_order"
    )
)
_NEGATIVE_INTENTS = frozenset(items("complaint | damaged_item"))
_URGENT_INTENTS = frozenset(items("account_locked | payment_failed"))
_LOW_PRIORITY_INTENTS = frozenset(items("praise | product_question | discount_code | invoice_request"))
_FRUSTRATIONS = items(
    "This is really frustrating. | I'm losing my patience here. | Please sort this out ASAP! | "
    "Not impressed at all. | Seriously?! | I need an answer today. | "
    "This is the third time I'm writing about this."
)
_KITCHEN = items(
    "cast iron skillet | electric kettle | cafetiere | stand mixer | bamboo cutting board | "
    "ceramic dinner set | toaster | stainless steel pot set | glass storage jar set"
)
_GADGETS = items(
    "wireless earbuds | power bank | bluetooth speaker | wireless charger | USB-C hub | "
    "noise-cancelling headphones | webcam | smart plug | mechanical keyboard"
)
_GARMENTS = items(
    "linen shirt | wool jumper | rain jacket | cotton hoodie | summer dress | fleece jacket | "
    "knit cardigan | puffer coat"
)
_FIRST_NAMES = items(
    "Maria | John | Aisha | Wei | Olga | Kwame | Sofia | Liam | Yuki | Mateo | Fatima | Noah | Ingrid | "
    "Ravi | Chloe | Diego | Amara | Lukas | Mei | Omar | Hannah | Tomasz | Zara | Kenji | Isabel | Samuel | "
    "Nadia | Arjun | Elena | Patrick"
)
_LAST_NAMES = items(
    "Smith | Garcia | Okafor | Chen | Novak | Mensah | Rossi | Murphy | Tanaka | Fernandez | Haddad | "
    "Johansson | Patel | Dubois | Kowalski | Nguyen | Schmidt | O'Brien | Kim | Silva | Ahmed | Andersen | "
    "Costa | Brown | Ivanova | Wilson | Santos | Hughes | Yilmaz | Lopez"
)
_AGENTS = items("Priya | Tom | Lena | Marco | Grace | Ahmed | Sven")
_CITIES = items(
    "Portland | Leeds | Austin | Manchester | Denver | Bristol | Toronto | Glasgow | Seattle | Cork | "
    "Melbourne | Nottingham | Halifax | Brighton | Phoenix"
)
_STREETS = items(
    "Maple Avenue | High Street | Oak Lane | Station Road | Elm Street | Church Road | Harbour View | "
    "Mill Lane | Cedar Drive | Victoria Road"
)
_CARRIERS = items("UPS | FedEx | DHL | USPS | Royal Mail | DPD | Evri | Canada Post")
_CARD_BRANDS = items("Visa | Mastercard | Amex | Visa debit card | Mastercard debit")
_MONTHS = items(
    "January | February | March | April | May | June | July | August | September | October | November | "
    "December"
)
_WEEKDAYS = items("Monday | Tuesday | Wednesday | Thursday | Friday | Saturday | Sunday")
_CODE_PREFIXES = items("WELCOME | SPRING | NWFRIENDS | SUMMER | HOME | STUDENT | VIP | FLASH")
_COMPANIES = items(
    "Bluefield Design Ltd | Harper & Cole LLP | Quarry Lane Studio | Nordic Dental Group | "
    "Acorn Logistics Inc."
)
_SIZES = items("XS | S | M | L | XL")
_COLORS = items("navy | olive | charcoal | sand | burgundy | white")
_GREETINGS = items(
    "Hi, | Hello, | Hello team, | Dear Northwind support, | Dear Sir or Madam, | Hey, | Hi there, | "
    "Good morning, | To whom it may concern, | Hi {agent},"
)
_SIGN_OFFS = items(
    "Thanks,\n{first} | Thanks, {first} | Best regards\n{first} {last}\n+1 555 01{phone} | "
    "Kind regards,\n{first} {last} | Cheers,\n{first} | Sent from my iPhone | Get Outlook for Android | "
    "Regards, {initial}. {last} | {first} | Thank you in advance,\n{first} {last} | "
    "Many thanks\n{first} {last}\nOrder account: {email}"
)

_WORD_RE = re.compile(r"(?<![\w.@-])[A-Za-z]{4,}(?![\w@-]|\.\w)")
_END_PUNCT_RE = re.compile(r"[.,;:!?]+(?=\s|$)")
_ASIDE_RATE = 0.19  # ~10% of tickets end up mixed once too-short primaries are skipped


@dataclass(frozen=True)
class DemoTicket:
    """One synthetic support ticket; ``text`` is exactly what the classifier sees."""

    text: str
    subject: str
    body: str
    label: str  # the primary intent
    customer_name: str
    customer_email: str
    sentiment: str = "neutral"  # positive | neutral | negative
    priority: str = "normal"  # low | normal | high


COLUMNS = ("text", "label", "sentiment", "priority")


def _make_email(rng: random.Random, first: str, last: str) -> str:
    """Build a plausible address on a reserved example domain."""
    f, lst = first.lower(), re.sub(r"[^a-z]", "", last.lower())
    local = rng.choice(
        (f"{f}.{lst}", f"{f}{lst}", f"{f}.{lst}{rng.randint(1, 99)}", f"{f[0]}{lst}", f"{f}_{lst}")
    )
    return f"{local}@{rng.choice(('example.com', 'example.com', 'example.org'))}"


def _make_slots(rng: random.Random, first: str, last: str, email: str) -> dict[str, str]:
    """Draw a value for every template slot (unused ones are simply ignored)."""
    city = rng.choice(_CITIES)
    pct = rng.choice((10, 15, 20, 25, 30))
    return {
        "order_id": f"NW-{rng.randint(10000, 99999)}",
        "other_order": f"NW-{rng.randint(10000, 99999)}",
        "product": rng.choice(_KITCHEN + _GADGETS + _GARMENTS),
        "kitchen": rng.choice(_KITCHEN),
        "gadget": rng.choice(_GADGETS),
        "garment": rng.choice(_GARMENTS),
        "amount": f"${rng.randint(8, 249)}.{rng.choice(('99', '49', '95', '00', '50'))}",
        "date": f"{rng.choice(_MONTHS)} {rng.randint(1, 28)}",
        "weekday": rng.choice(_WEEKDAYS),
        "city": city,
        "address": f"{rng.randint(2, 480)} {rng.choice(_STREETS)}, {city} {rng.randint(10000, 99999)}",
        "days": str(rng.randint(4, 21)),
        "weeks": str(rng.randint(2, 6)),
        "months": str(rng.randint(3, 20)),
        "card": f"{rng.choice(_CARD_BRANDS)} ending {rng.randint(1000, 9999)}",
        "carrier": rng.choice(_CARRIERS),
        "tracking": f"{rng.choice(('1Z', 'JD', 'LX', 'TB'))}{rng.randint(10**9, 10**10 - 1)}",
        "code": f"{rng.choice(_CODE_PREFIXES)}{pct}",
        "percent": str(pct),
        "invoice_no": f"INV-{rng.choice((2023, 2024))}-{rng.randint(1000, 9999)}",
        "company": rng.choice(_COMPANIES),
        "size": rng.choice(_SIZES),
        "color": rng.choice(_COLORS),
        "qty": str(rng.randint(2, 6)),
        "errcode": str(rng.randint(100, 999)),
        "agent": rng.choice(_AGENTS),
        "phone": f"{rng.randint(0, 99):02d}",
        "first": first,
        "last": last,
        "initial": first[0],
        "email": email,
    }


def _typo_word(word: str, rng: random.Random) -> str:
    """Swap two adjacent letters or drop one (never the first letter)."""
    i = rng.randrange(1, len(word) - 1)
    if rng.random() < 0.5 and word[i] != word[i + 1]:
        return word[:i] + word[i + 1] + word[i] + word[i + 2 :]
    return word[:i] + word[i + 1 :]


def _apply_typos(text: str, rng: random.Random, rate: float = 0.06) -> str:
    """Introduce sparse, realistic typos; guarantees at least one when possible."""
    matches = list(_WORD_RE.finditer(text))
    if not matches:
        return text
    chosen = {m.start() for m in matches if rng.random() < rate} or {rng.choice(matches).start()}
    parts: list[str] = []
    last_end = 0
    for m in matches:
        if m.start() in chosen:
            parts.append(text[last_end : m.start()] + _typo_word(m.group(), rng))
            last_end = m.end()
    return "".join(parts) + text[last_end:]


def _casual(text: str) -> str:
    """Lowercase everything and strip most punctuation, like a hurried phone message."""
    return _END_PUNCT_RE.sub("", text.lower().replace("'", ""))


def _end_sentence(text: str) -> str:
    """Make sure ``text`` ends with sentence punctuation (adds a full stop if it has none)."""
    text = text.rstrip()
    return text if text.endswith((".", "!", "?")) else text + "."


def _add_frustration(body: str, rng: random.Random) -> str:
    """Append an exasperated remark or turn the final full stop into exclamation marks."""
    body = _end_sentence(body)
    if rng.random() < 0.5:
        return body + " " + rng.choice(_FRUSTRATIONS)
    if body.endswith("?"):
        return body + rng.choice(("?", "?!", "!!"))
    return body.rstrip(".!") + rng.choice(("!!", "!!!", "!"))


def _core_body(intent: str, template: str, slots: dict[str, str], rng: random.Random) -> tuple[str, bool]:
    """Fill the template and apply the intent-level variation layers (aside, frustration, typos)."""
    body = template.format_map(slots)
    frustrated = intent in _FRUSTRATED_INTENTS and rng.random() < 0.18
    if frustrated:
        body = _add_frustration(body, rng)
    if rng.random() < _ASIDE_RATE:
        other = rng.choice([i for i in INTENTS if i != intent])
        aside = rng.choice(_SPECS[other].asides).format_map(slots)
        if len(body) >= 1.5 * len(aside):  # the secondary intent must stay clearly less prominent
            sep = "\n\n" if "\n" in body or rng.random() < 0.4 else " "
            body = _end_sentence(body) + sep + aside
    if rng.random() < 0.15:
        body = _apply_typos(body, rng)
    return body, frustrated


def _wrap(core: str, slots: dict[str, str], rng: random.Random, casual: bool) -> str:
    """Add an optional greeting and sign-off around the core text."""
    is_short = "\n" not in core and len(core) < 120
    parts: list[str] = []
    if rng.random() < (0.25 if is_short else 0.8):
        greeting = rng.choice(_GREETINGS).format_map(slots)
        parts.append(greeting.lower() if casual else greeting)
    parts.append(core)
    if rng.random() < (0.3 if is_short else 0.8):
        parts.append(rng.choice(_SIGN_OFFS).format_map(slots))
    return "\n\n".join(parts)


def _make_subject(intent: str, slots: dict[str, str], rng: random.Random, casual: bool) -> str:
    """Pick an intent-specific (or, sometimes, generic) subject line with light decoration."""
    pool = _GENERIC_SUBJECTS if rng.random() < 0.15 else _SPECS[intent].subjects
    subject = rng.choice(pool).format_map(slots)
    roll = rng.random()
    if roll < 0.06:
        subject = rng.choice(("Re: ", "Fwd: ", "RE: ")) + subject
    elif roll < 0.10 and intent in _FRUSTRATED_INTENTS:
        subject = rng.choice(("URGENT: ", "")) + subject.upper()
    if casual and rng.random() < 0.6:
        subject = subject.lower()
    return subject


def _make_ticket(intent: str, rng: random.Random) -> DemoTicket:
    """Generate one ticket whose primary intent is ``intent``."""
    first, last = rng.choice(_FIRST_NAMES), rng.choice(_LAST_NAMES)
    email = _make_email(rng, first, last)
    slots = _make_slots(rng, first, last, email)
    core, frustrated = _core_body(intent, rng.choice(_SPECS[intent].bodies), slots, rng)
    casual = rng.random() < 0.12
    if casual:
        core = _casual(core)
    body = _wrap(core, slots, rng, casual)
    subject = _make_subject(intent, slots, rng, casual)
    frustrated = frustrated or subject.startswith("URGENT")
    return DemoTicket(
        text=f"{subject}\n\n{body}",
        subject=subject,
        body=body,
        label=intent,
        customer_name=f"{first} {last}",
        customer_email=email,
        sentiment=sentiment_for(intent, frustrated),
        priority=priority_for(intent, frustrated),
    )


def sentiment_for(intent: str, frustrated: bool) -> str:
    if intent == "praise":
        return "positive"
    return "negative" if frustrated or intent in _NEGATIVE_INTENTS else "neutral"


def priority_for(intent: str, frustrated: bool) -> str:
    if frustrated or intent in _URGENT_INTENTS:
        return "high"
    return "low" if intent in _LOW_PRIORITY_INTENTS else "normal"


LANGUAGES = ("en", "zh")


def unique_tickets(
    make: Callable[[str, random.Random], DemoTicket], *, per_intent: int, rng: random.Random
) -> list[DemoTicket]:
    """``per_intent`` tickets with distinct texts for every intent in ``INTENTS``, each ``make(intent, rng)``;
    RuntimeError when 100 draws in a row repeat a text."""
    seen: set[str] = set()
    tickets: list[DemoTicket] = []
    for intent in INTENTS:
        for _ in range(per_intent):
            for _attempt in range(100):
                ticket = make(intent, rng)
                if ticket.text not in seen:
                    break
            else:
                raise RuntimeError(f"could not generate a unique ticket for intent {intent!r}")
            seen.add(ticket.text)
            tickets.append(ticket)
    return tickets


def generate_tickets(
    *,
    per_intent: int = 80,
    seed: int = 13,
    languages: tuple[str, ...] = ("en",),
    realism: "Realism | None" = None,
) -> list[DemoTicket]:
    """Return ``per_intent`` unique tickets for every intent in ``INTENTS`` and language in ``languages``
    (``"zh"``: Chinese, from ``demo_data_zh``), shuffled deterministically; with ``realism``, some become
    e-mail threads, two-request or vague tickets (``demo_realism``), else all are the clean templates.

    Raises ValueError for a negative ``per_intent`` or an unknown language, and RuntimeError if unique texts
    cannot be found.
    """
    unknown = sorted(set(languages) - set(LANGUAGES))
    if unknown or not languages:
        raise ValueError(f"languages must be among {', '.join(LANGUAGES)}; got {', '.join(languages)}")
    if per_intent < 0:
        raise ValueError(f"per_intent must be >= 0, got {per_intent}")
    rng = random.Random(seed)
    tickets = unique_tickets(_make_ticket, per_intent=per_intent, rng=rng)  # drawn always: same shuffle
    if "en" not in languages:
        tickets = []
    if "zh" in languages:
        from services.trainer.demo_data_zh import generate_tickets_zh

        tickets += generate_tickets_zh(per_intent=per_intent, seed=seed)
    rng.shuffle(tickets)
    if realism is not None:
        from services.trainer.demo_realism import apply_realism

        tickets = apply_realism(tickets, realism, seed=seed)
    return tickets


def write_dataset(
    path: pathlib.Path,
    *,
    per_intent: int = 80,
    seed: int = 13,
    languages: tuple[str, ...] = ("en",),
    realism: "Realism | None" = None,
) -> int:
    """Write tickets as CSV or JSONL (columns text, label, sentiment, priority); return the row count."""
    path = pathlib.Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".jsonl"):
        raise ValueError(f"unsupported dataset suffix {path.suffix!r}; use .csv or .jsonl")
    tickets = generate_tickets(per_intent=per_intent, seed=seed, languages=languages, realism=realism)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8", newline="") as fh:
        if suffix == ".csv":
            writer = csv.writer(fh)
            writer.writerow(COLUMNS)
            writer.writerows([getattr(t, c) for c in COLUMNS] for t in tickets)
        else:
            for t in tickets:
                fh.write(json.dumps({c: getattr(t, c) for c in COLUMNS}, ensure_ascii=False) + "\n")
    return len(tickets)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point: write a dataset to ``--out`` (or just count tickets) and print the row count."""
    parser = argparse.ArgumentParser(description="Generate demo Northwind Goods support tickets.")
    parser.add_argument(
        "--out",
        type=pathlib.Path,
        default=None,
        help="output file (.csv or .jsonl); if omitted, tickets are only generated and counted",
    )
    parser.add_argument("--per-intent", type=int, default=80, help="tickets per intent (default: 80)")
    parser.add_argument("--seed", type=int, default=13, help="random seed (default: 13)")
    parser.add_argument("--languages", default="en", help="comma-separated: en, zh or en,zh (default: en)")
    args = parser.parse_args(argv)
    languages = tuple(part.strip() for part in args.languages.split(",") if part.strip())
    try:
        if args.out is None:
            count = len(generate_tickets(per_intent=args.per_intent, seed=args.seed, languages=languages))
        else:
            count = write_dataset(args.out, per_intent=args.per_intent, seed=args.seed, languages=languages)
    except ValueError as exc:
        parser.error(str(exc))
    print(count)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
