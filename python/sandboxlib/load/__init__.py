'''sandboxlib loaders module.'''

from sandboxlib.load import appc  # noqa: F401
