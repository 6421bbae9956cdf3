"""Which code ran: the git commit of the repository, kept apart from the science."""

import subprocess


def git_commit(root):
    """``git describe --always --dirty`` of ``root`` ("" outside a repository or without git).

    "-dirty": the work tree had changes, so the commit alone does not say which code ran.
    """
    try:
        return subprocess.run(["git", "-C", str(root), "describe", "--always", "--dirty"], capture_output=True,
                              text=True, timeout=10).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""
