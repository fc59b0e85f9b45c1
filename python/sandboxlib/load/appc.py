'''Sandbox loader module for App Container images (.aci).

As in the original: an image is a tarball holding ``manifest`` (JSON) and
``rootfs/``; ``unpack_app_container_image`` unpacks it into a temporary
directory and yields ``(rootfs_path, manifest_data)``, removing it afterwards.
Unlike the original, an entry that would land outside that directory (an
absolute name, '..', a path through a symbolic link an earlier entry made, a
hard link to a path outside) is refused with RuntimeError.

The executable also runs an image given as ``filesystem_root`` directly,
with the manifest's exec, working directory and environment as defaults.
'''

import contextlib
import json
import os
import shutil
import tarfile
import tempfile


# Mandated by https://github.com/appc/spec/blob/master/SPEC.md#execution-environment
BASE_ENVIRONMENT = {
    'PATH': '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
}


def is_app_container_image(path):
    return path.endswith('.aci')


def _parts(name):
    return [p for p in name.split('/') if p not in ('', '.')]


def _checked_members(tf):
    '''The members, each checked to stay inside the destination.'''
    symlinks = set()
    for member in tf.getmembers():
        parts = _parts(member.name)
        if member.name.startswith('/') or '..' in parts:
            raise RuntimeError(
                'refusing image entry outside the image: %s' % member.name)
        for i in range(1, len(parts)):
            if '/'.join(parts[:i]) in symlinks:
                raise RuntimeError(
                    'refusing image entry through a symbolic link: %s' %
                    member.name)
        if member.islnk():
            target = member.linkname
            if target.startswith('/') or '..' in _parts(target):
                raise RuntimeError(
                    'refusing hard link to a path outside the image: %s -> %s'
                    % (member.name, target))
        if member.issym():
            symlinks.add('/'.join(parts))
        yield member


@contextlib.contextmanager
def unpack_app_container_image(image_file):
    tempdir = tempfile.mkdtemp()
    try:
        # Owners, modes and device nodes are restored: as root.
        with tarfile.open(image_file, 'r') as tf:
            kwargs = {}
            if hasattr(tarfile, 'fully_trusted_filter'):
                # Checked above; the 'data' filter would refuse a root
                # filesystem's absolute symlinks and device nodes.
                kwargs['filter'] = 'fully_trusted'
            tf.extractall(path=tempdir, members=_checked_members(tf),
                          numeric_owner=True, **kwargs)

        manifest_path = os.path.join(tempdir, 'manifest')
        rootfs_path = os.path.join(tempdir, 'rootfs')

        with open(manifest_path, 'r') as f:
            manifest_data = json.load(f)

        yield rootfs_path, manifest_data
    finally:
        shutil.rmtree(tempdir)
