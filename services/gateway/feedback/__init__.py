"""Resolution feedback: agents' final labels and replies on solved tickets."""
