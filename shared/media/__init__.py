"""A ticket's attachments: safe downloads (`fetch`), what a file really is (`sniff`), content-addressed
storage (`store`)."""
