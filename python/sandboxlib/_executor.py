'''What the three executor modules share: degrading a config to a backend's
CAPABILITIES, with the original's warnings.'''

import warnings


def _kind(name, value):
    '''The CAPABILITIES word for a value: a list of writable paths is 'any'.'''
    if name == 'filesystem_writable_paths':
        if value is None or (isinstance(value, (list, tuple)) and not value):
            return 'none'
        if isinstance(value, (list, tuple)):
            return 'any'
    return value


DEFAULTS = (
    ('mounts', 'undefined'),
    ('network', 'undefined'),
    ('filesystem_writable_paths', 'all'),
)


def degrade(in_config, warn, capabilities, backend):
    '''A copy of in_config with each setting the backend cannot honour set to
    the first value it supports; with warn, warnings.warn() says so, in the
    original's words.'''
    out_config = in_config.copy()
    for name, default in DEFAULTS:
        value = out_config.get(name, default)
        supported = capabilities[name]
        if _kind(name, value) in supported:
            continue
        allowed_value = supported[0]
        if warn:
            warnings.warn(
                'Unable to set %(name)s=%(value)s in a %(backend)s sandbox, '
                'falling back to %(name)s=%(allowed_value)s' % {
                    'name': name, 'value': value, 'backend': backend,
                    'allowed_value': allowed_value})
        out_config[name] = allowed_value
    return out_config
