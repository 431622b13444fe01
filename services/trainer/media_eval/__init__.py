"""Evaluation sets and reports for attachment text: OCR on generated screenshots, speech on generated
voice messages, and tickets whose evidence is only in an attachment."""
