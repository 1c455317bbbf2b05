"""One pull-request comment per marker, through GitHub's REST API with the standard library.

The comment to update is the first one whose body starts with the marker and whose author is a bot
(`user.type == "Bot"`): a person's comment that quotes the marker, and another bot's comment
without it, are never touched. Comments are listed 100 a page, following `Link: rel="next"`.
Every request has a time limit; the API must be https (http only on loopback, for tests), and
the token is sent to the API's own origin only."""

import ipaddress
import json
import re
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass

LIMIT = 65_536  # GitHub refuses a longer comment body
TIMEOUT = 30  # seconds per request
MAX_PAGES = 100  # 10,000 comments
LOOPBACK_NAMES = {"localhost"}


class CommentError(Exception):
    """The comment could not be posted; the message is one line."""


@dataclass(frozen=True)
class Settings:
    api_url: str
    repository: str
    token: str
    run_url: str

    @classmethod
    def from_environ(cls, environ) -> "Settings":
        api = environ.get("GITHUB_API_URL", "https://api.github.com").rstrip("/")
        server = environ.get("GITHUB_SERVER_URL", "https://github.com").rstrip("/")
        repository = environ.get("GITHUB_REPOSITORY", "")
        run_url = f"{server}/{repository}/actions/runs/{environ.get('GITHUB_RUN_ID', '')}"
        if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", repository):
            raise CommentError(f"GITHUB_REPOSITORY is not OWNER/NAME: {repository!r}")
        token = environ.get("INPUT_GITHUB_TOKEN", "")
        if not token:
            raise CommentError("no github-token to post the comment with")
        origin(api)  # refuses a plain-http API before anything is sent
        return cls(api, repository, token, run_url)


def origin(url: str) -> tuple[str, str, int]:
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or {"https": 443, "http": 80}.get(parts.scheme, 0)
    if parts.scheme == "https" and host:
        return parts.scheme, host, port
    if parts.scheme == "http" and is_loopback(host):
        return parts.scheme, host, port
    raise CommentError(f"the GitHub API must be an https URL (http only on loopback): {url!r}")


def is_loopback(host: str) -> bool:
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def request(settings: Settings, method: str, url: str, body: dict | None = None):
    """(decoded JSON, headers) of one API call; the token goes to the API's origin only."""
    if origin(url) != origin(settings.api_url):
        raise CommentError(f"refused to send the token to {url!r}: not the API's origin {settings.api_url!r}")
    data = json.dumps(body).encode() if body is not None else None
    headers = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28",
               "Authorization": f"Bearer {settings.token}", "User-Agent": "b2ckeys-action"}
    if data is not None:
        headers["Content-Type"] = "application/json"
    call = urllib.request.Request(url, data=data, method=method, headers=headers)
    try:
        with NO_REDIRECTS.open(call, timeout=TIMEOUT) as answer:
            return json.loads(answer.read(8 << 20) or b"null"), answer.headers
    except urllib.error.HTTPError as error:
        raise CommentError(f"{method} {url} answered {error.code} {error.reason}") from None
    except (urllib.error.URLError, TimeoutError, OSError, ValueError) as error:
        raise CommentError(f"{method} {url} failed: {error}") from None


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None  # a redirect is an error: the token never follows it elsewhere


NO_REDIRECTS = urllib.request.build_opener(_NoRedirect)


def next_link(headers) -> str | None:
    for part in (headers.get("Link") or "").split(","):
        match = re.fullmatch(r'\s*<([^>]*)>\s*;\s*rel="?next"?\s*', part)
        if match:
            return match.group(1)
    return None


def comments(settings: Settings, number: int):
    url = f"{settings.api_url}/repos/{settings.repository}/issues/{number}/comments?per_page=100"
    for _ in range(MAX_PAGES):
        page, headers = request(settings, "GET", url)
        if not isinstance(page, list):
            raise CommentError(f"GET {url} answered something that is not a list of comments")
        yield from (c for c in page if isinstance(c, dict))
        url = next_link(headers)
        if not url:
            return
    raise CommentError(f"more than {MAX_PAGES} pages of comments")


def ours(item: dict, marker: str) -> bool:
    user = item.get("user") if isinstance(item.get("user"), dict) else {}
    body = item.get("body") if isinstance(item.get("body"), str) else ""
    return user.get("type") == "Bot" and body.startswith(marker)


def cut(text: str, limit: int, note: str) -> str:
    """text cut at a line end so that it and the note fit in limit UTF-8 bytes (so in as many
    characters); a code block left open is closed first."""
    room = limit - len(note.encode()) - 16
    kept = text.encode()[:room].decode("utf-8", "ignore")
    kept = kept[: kept.rfind("\n") + 1] if "\n" in kept else kept
    fences = re.findall(r"^(`{3,})", kept, flags=re.MULTILINE)
    if len(fences) % 2:
        kept += fences[-1] + "\n"
    return kept + note


def body_of(settings: Settings, marker: str, text: str) -> str:
    body = f"{marker}\n{text}"
    if len(body.encode()) <= LIMIT:
        return body
    note = f"\n\n*Cut to fit in a comment: the whole output is in [the run's summary]({settings.run_url}).*\n"
    return cut(body, LIMIT, note)


def post(settings: Settings, number: int, marker: str, text: str) -> str:
    """Updates our comment with this marker, or posts one; returns its html_url."""
    body = body_of(settings, marker, text)
    found = next((c for c in comments(settings, number) if ours(c, marker)), None)
    if found is not None and isinstance(found.get("id"), int):
        url = f"{settings.api_url}/repos/{settings.repository}/issues/comments/{found['id']}"
        answer, _ = request(settings, "PATCH", url, {"body": body})
    else:
        url = f"{settings.api_url}/repos/{settings.repository}/issues/{number}/comments"
        answer, _ = request(settings, "POST", url, {"body": body})
    return str((answer or {}).get("html_url", "")) if isinstance(answer, dict) else ""
