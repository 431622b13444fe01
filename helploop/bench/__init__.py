"""`make bench`: measurements on this machine, written as JSON plus a Markdown table (bench/results/)."""
