"""One module per verb: each defines a click command that parses options, then calls plain code."""
