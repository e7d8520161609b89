"""A real IMAP server on 127.0.0.1 for the tests: Debian's dovecot (installed by scripts/ensure-dovecot.sh),
started with its own configuration in a temporary directory - never the system's dovecot service.

Users and passwords are a passwd-file; mail is Maildir under the directory, owned by the dovecot user
(dovecot does not deliver to uid 0). Messages reach a mailbox by IMAP APPEND (`deliver`). XOAUTH2 is
checked by dovecot's oauth2 passdb against a token-introspection endpoint on 127.0.0.1 that the tests
run, so a login succeeds only with the access token that endpoint knows.
"""

from __future__ import annotations

import os
import pwd
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from imapclient import IMAPClient

DOVECOT = os.environ.get("OUTREACH_DOVECOT", "/usr/sbin/dovecot")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Dovecot:
    root: Path
    port: int
    users: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    def client(self, user: str) -> IMAPClient:
        client = IMAPClient("127.0.0.1", port=self.port, ssl=False, timeout=10)
        client.login(user, self.users[user])
        return client

    def deliver(self, user: str, raw: bytes, folder: str = "INBOX") -> None:
        """Put a message in a user's folder (IMAP APPEND), as a delivery would."""
        with self.client_session(user) as client:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            client.append(folder, raw)

    @contextmanager
    def client_session(self, user: str) -> Iterator[IMAPClient]:
        client = self.client(user)
        try:
            yield client
        finally:
            client.logout()

    def flags(self, user: str, folder: str = "INBOX") -> list[tuple[bytes, ...]]:
        with self.client_session(user) as client:
            client.select_folder(folder, readonly=True)
            return [tuple(v) for v in client.get_flags(client.search("ALL")).values()]

    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""


_CONFIG = """
base_dir = {root}/run
state_dir = {root}/state
log_path = {root}/dovecot.log
listen = 127.0.0.1
protocols = imap
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login xoauth2 oauthbearer
auth_failure_delay = 0

default_internal_user = dovecot
default_internal_group = dovecot
default_login_user = dovenull
first_valid_uid = 1
mail_location = maildir:{root}/mail/%u
mail_uid = dovecot
mail_gid = dovecot
mail_privileged_group =
login_greeting = outreach test dovecot
protocol imap {{
  mail_max_userip_connections = 50
}}
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {root}/users
  mechanisms = plain login
}}
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {root}/oauth2.conf
}}
userdb {{
  driver = static
  args = uid=dovecot gid=dovecot home={root}/mail/%u
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service pop3-login {{
  inet_listener pop3 {{
    port = 0
  }}
}}
service anvil {{
  chroot =
}}
service stats {{
  inet_listener http {{
    port = 0
  }}
}}
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
    auto = create
  }}
  mailbox Drafts {{
    special_use = \\Drafts
    auto = create
  }}
  mailbox Trash {{
    special_use = \\Trash
    auto = create
  }}
}}
"""

_OAUTH2 = """
introspection_mode = post
introspection_url = http://127.0.0.1:{introspect_port}/introspect
username_attribute = username
active_attribute = active
active_value = true
tokeninfo_url =
"""


@contextmanager
def dovecot(users: dict[str, str], introspect_port: int = 9) -> Iterator[Dovecot]:
    """A running dovecot with these users. The directory and the process go away afterwards."""
    if not Path(DOVECOT).exists():
        raise RuntimeError(f"{DOVECOT} is missing: `make test` installs it (scripts/ensure-dovecot.sh)")
    root = Path(tempfile.mkdtemp(prefix="outreach-dovecot-"))
    port = _free_port()
    mail_user = pwd.getpwnam("dovecot")
    for sub in ("run", "state", "mail"):
        (root / sub).mkdir()
    os.chown(root / "mail", mail_user.pw_uid, mail_user.pw_gid)
    root.chmod(0o755)
    (root / "users").write_text("".join(f"{u}:{{PLAIN}}{p}::::::\n" for u, p in users.items()))
    (root / "oauth2.conf").write_text(_OAUTH2.format(introspect_port=introspect_port))
    config = root / "dovecot.conf"
    config.write_text(_CONFIG.format(root=root, port=port))
    process = subprocess.Popen(
        [DOVECOT, "-F", "-c", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    server = Dovecot(root, port, dict(users), process)
    try:
        deadline = time.monotonic() + 20
        while True:
            if process.poll() is not None:
                err = process.stderr.read().decode(errors="replace") if process.stderr else ""
                raise RuntimeError(f"dovecot exited: {err}\n{server.log()}")
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1) as probe:
                    if probe.recv(200).startswith(b"* OK"):
                        break
            except OSError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"dovecot did not start on 127.0.0.1:{port}\n{server.log()}")
            time.sleep(0.05)
        yield server
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        if not os.environ.get("KEEP_DOVECOT"):
            shutil.rmtree(root, ignore_errors=True)
