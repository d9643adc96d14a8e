"""Self-service provisioning of SignalWire SIP endpoints: the domain shared by every entry point.

In Lambda's INIT (and only there: `IN_LAMBDA`), importing the package pauses
the garbage collector. INIT builds modules, models and clients that live as long as the
container and frees almost nothing, so the collector's passes over it are wasted (about a tenth
of the import's CPU, measured by `make bench`). Every entry's last line,
`wiring.warm_up_during_init`, freezes what INIT made and starts the collector again."""

import gc
import os

# Set by Lambda for INIT and every invocation after it; never by a test or a tool.
IN_LAMBDA = "AWS_LAMBDA_INITIALIZATION_TYPE"

if IN_LAMBDA in os.environ:
    gc.disable()
