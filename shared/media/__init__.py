"""A ticket's attachments: safe downloads (`fetch`), zip archives under limits (`archive`), PDF text
(`pdf`), what a file really is (`sniff`), content-addressed storage (`store`)."""
