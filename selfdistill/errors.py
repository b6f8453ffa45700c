"""The one error family: anything raised as a FatalError becomes a one-line message and exit 1."""


class FatalError(Exception):
    """A problem the user can act on; its text is the whole message shown."""


class UserError(FatalError):
    """Bad arguments or input given by the user."""


class StateError(FatalError):
    """selfdistill's own state is unreadable or cannot be written."""


# How a run manifest's `errors` say the write-back failed (the run's lessons are stored, but the
# agent will not see them): `selfdistill run` then exits 1.
PUBLISH_ERROR = "publish: "
# How a run says the model it was asked for was not used: doctor then knows the fix.
NO_KEY_ERROR = "ANTHROPIC_API_KEY is not set"
