'''python/sandboxlib stays what pyproject.toml promises: Python 3.7 or later,
the standard library only.

Checked statically here, under whatever interpreter runs the suite. The
grammar check is exact only under 3.7 itself (compile()); later interpreters
use ast.parse(feature_version=(3, 7)), which is best-effort (3.8 and 3.9 let a
walrus through, 3.12 an f"{x=}"). Neither sees an API newer than 3.7, so a
short list of known ones is looked for too; it is not exhaustive. What settles
it is the whole suite run under a real 3.7, which python/tests/run.sh does
when pyenv has one.
'''

import ast
import os
import re
import sys

import pytest

PACKAGE = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))), 'sandboxlib')

# Names newer than 3.7, as module.attribute, `from module import name` or
# `import module`, with the version that added them.
NEW_NAMES = {
    'shlex.join': '3.8', 'functools.cached_property': '3.8',
    'math.prod': '3.8', 'math.isqrt': '3.8', 'os.memfd_create': '3.8',
    'typing.Literal': '3.8', 'typing.Final': '3.8', 'typing.final': '3.8',
    'typing.Protocol': '3.8', 'typing.TypedDict': '3.8',
    'importlib.metadata': '3.8', 'functools.cache': '3.9',
    'os.waitstatus_to_exitcode': '3.9', 'os.pidfd_open': '3.9',
    'zoneinfo': '3.9', 'graphlib': '3.9', 'itertools.pairwise': '3.10',
    'types.NoneType': '3.10', 'contextlib.chdir': '3.11', 'tomllib': '3.11',
}
# Methods newer than 3.7, on any object.
NEW_METHODS = {'removeprefix': '3.9', 'removesuffix': '3.9',
               'is_relative_to': '3.9', 'bit_count': '3.10'}
# Keyword arguments newer than 3.7, of the functions named.
_SUBPROCESS = ('run', 'Popen', 'call', 'check_call', 'check_output')
NEW_KEYWORDS = {
    'dirs_exist_ok': (('copytree',), '3.8'),
    'missing_ok': (('unlink',), '3.8'),
    'user': (_SUBPROCESS, '3.9'), 'group': (_SUBPROCESS, '3.9'),
    'extra_groups': (_SUBPROCESS, '3.9'), 'umask': (_SUBPROCESS, '3.9'),
    'pipesize': (_SUBPROCESS, '3.10'), 'process_group': (_SUBPROCESS, '3.11'),
    'filter': (('extractall', 'extract'), '3.12 (backported to 3.8.17)'),
}
# Subscripted at run time (not in a string), these need 3.9.
BUILTIN_GENERICS = {'list', 'dict', 'tuple', 'set', 'frozenset', 'type'}


def sources():
    for dirpath, dirnames, filenames in os.walk(PACKAGE):
        dirnames.sort()
        for name in sorted(filenames):
            if name.endswith('.py'):
                yield os.path.join(dirpath, name)


def grammar_error(source, path):
    '''"path:line: message" if the source is not Python 3.7, else None.'''
    try:
        if sys.version_info < (3, 8):
            compile(source, path, 'exec', dont_inherit=True)
        else:
            ast.parse(source, path, feature_version=(3, 7))
    except SyntaxError as e:
        return '%s:%s: %s' % (path, e.lineno, e.msg)
    return None


def _called_name(func):
    return func.attr if isinstance(func, ast.Attribute) else getattr(func, 'id', None)


def new_apis(source, path):
    '''["path:line: what (Python X)"] for each known post-3.7 API used.'''
    found = []

    def report(node, what, version):
        found.append('%s:%d: %s (Python %s)' % (path, node.lineno, what, version))

    tree = ast.parse(source, path)
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.name in NEW_NAMES:
                    report(node, 'import ' + alias.name, NEW_NAMES[alias.name])
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            if node.module in NEW_NAMES:
                report(node, 'from ' + node.module, NEW_NAMES[node.module])
            for alias in node.names:
                dotted = node.module + '.' + alias.name
                if dotted in NEW_NAMES:
                    report(node, dotted, NEW_NAMES[dotted])
        elif isinstance(node, ast.Attribute):
            if isinstance(node.value, ast.Name):
                dotted = node.value.id + '.' + node.attr
                if dotted in NEW_NAMES:
                    report(node, dotted, NEW_NAMES[dotted])
            if node.attr in NEW_METHODS:
                report(node, '.' + node.attr + '()', NEW_METHODS[node.attr])
        elif isinstance(node, ast.Call):
            for keyword in node.keywords:
                functions, version = NEW_KEYWORDS.get(keyword.arg, ((), None))
                if _called_name(node.func) in functions:
                    report(node, '%s(%s=)' % (_called_name(node.func), keyword.arg),
                           version)
        elif isinstance(node, ast.Subscript):
            if isinstance(node.value, ast.Name) and node.value.id in BUILTIN_GENERICS:
                report(node, node.value.id + '[...]', '3.9')
    return found


def top_level_imports(source, path):
    '''[(line, top-level module)] of every absolute import.'''
    names = []
    for node in ast.walk(ast.parse(source, path)):
        if isinstance(node, ast.Import):
            names += [(node.lineno, a.name.split('.')[0]) for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            names.append((node.lineno, node.module.split('.')[0]))
    return names


def read(path):
    with open(path, encoding='utf-8') as f:
        return f.read()


def test_sources_found():
    assert os.path.join(PACKAGE, '__init__.py') in list(sources())
    assert os.path.join(PACKAGE, 'load', 'appc.py') in list(sources())


def test_grammar_is_python_3_7():
    '''Every module of the package parses as Python 3.7.'''
    errors = [e for e in (grammar_error(read(p), p) for p in sources()) if e]
    assert not errors, 'newer than Python 3.7:\n' + '\n'.join(errors)


def test_no_known_api_newer_than_3_7():
    '''None of the known post-3.7 APIs above is used by the package.'''
    found = [f for p in sources() for f in new_apis(read(p), p)]
    assert not found, 'APIs newer than Python 3.7:\n' + '\n'.join(found)


@pytest.mark.skipif(sys.version_info < (3, 10),
                    reason='sys.stdlib_module_names is Python 3.10+ (checked by the newer run)')
def test_standard_library_only():
    '''The package imports nothing but the standard library and itself.'''
    allowed = set(sys.stdlib_module_names) | {'sandboxlib'}
    found = ['%s:%d: %s' % (p, line, name)
             for p in sources() for line, name in top_level_imports(read(p), p)
             if name not in allowed]
    assert not found, 'not in the standard library:\n' + '\n'.join(found)


def test_the_checks_can_fail():
    '''The checks above report what they look for, with file and line.'''
    assert re.match(r'm\.py:[1-3]: ', grammar_error('match x:\n    case 1:\n        pass\n', 'm.py'))
    assert grammar_error('x = 1\n', 'ok.py') is None
    bad = ('import shlex, tomllib\n'
           'from functools import cache\n'
           'def f(a: list[str]):\n'
           '    return shlex.join(a).removeprefix("x")\n'
           'subprocess.run(a, process_group=0, text=True)\n'
           'tarfile.open(p).extractall(d, filter="data")\n'
           'kwargs["filter"] = "data"\n')
    assert sorted(new_apis(bad, 'b.py')) == sorted([
        'b.py:1: import tomllib (Python 3.11)',
        'b.py:2: functools.cache (Python 3.9)',
        'b.py:3: list[...] (Python 3.9)',
        'b.py:4: shlex.join (Python 3.8)',
        'b.py:4: .removeprefix() (Python 3.9)',
        'b.py:5: run(process_group=) (Python 3.11)',
        'b.py:6: extractall(filter=) (Python 3.12 (backported to 3.8.17))',
    ])
    assert top_level_imports('import os.path\nfrom yaml import x\nfrom . import y\n', 'i.py') == [
        (1, 'os'), (2, 'yaml')]
