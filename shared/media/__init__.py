"""A ticket's attachments: safe downloads (`fetch`), zip archives under limits (`archive`), what a file
really is (`sniff`), content-addressed storage (`store`)."""
