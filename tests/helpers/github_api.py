"""A stand-in for GitHub's REST API on loopback, for the action's pull-request comments: it lists
(paged, with `Link: rel="next"`), creates and updates issue comments, and records every call."""

import json
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


class FakeGitHub:
    def __init__(self, repository: str = "octo/keys", token: str = "gh-token-for-tests"):
        self.repository, self.token = repository, token
        self.comments: list[dict] = []
        self.calls: list[dict] = []
        self.next_id = 1000
        self.next_page_at: str | None = None  # a `Link: rel="next"` to send instead of the real one
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self):
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()

    def add(self, body: str, login: str, kind: str) -> dict:
        self.next_id += 1
        item = {"id": self.next_id, "body": body, "user": {"login": login, "type": kind},
                "html_url": f"https://github.com/{self.repository}/pull/7#issuecomment-{self.next_id}"}
        self.comments.append(item)
        return item

    def env(self) -> dict[str, str]:
        return {"GITHUB_API_URL": self.url, "GITHUB_REPOSITORY": self.repository,
                "GITHUB_SERVER_URL": "https://github.com", "GITHUB_RUN_ID": "42"}

    def writes(self) -> list[dict]:
        return [c for c in self.calls if c["method"] != "GET"]

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def answer(self, status, body, headers=()):
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for key, value in headers:
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(data)

            def handle_call(self, method):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                parts = urlsplit(self.path)
                fake.calls.append({"method": method, "path": parts.path, "query": parts.query, "body": body,
                                   "authorization": self.headers.get("Authorization")})
                if self.headers.get("Authorization") != f"Bearer {fake.token}":
                    return self.answer(401, {"message": "Bad credentials"})
                repo = f"/repos/{fake.repository}/issues"
                listing = re.fullmatch(re.escape(repo) + r"/(\d+)/comments", parts.path)
                one = re.fullmatch(re.escape(repo) + r"/comments/(\d+)", parts.path)
                if listing and method == "GET":
                    query = parse_qs(parts.query)
                    size, page = int(query.get("per_page", ["30"])[0]), int(query.get("page", ["1"])[0])
                    chunk = fake.comments[(page - 1) * size: page * size]
                    headers = [("Link", f'<{fake.next_page_at}>; rel="next"')] if fake.next_page_at else []
                    if page * size < len(fake.comments) and not headers:
                        nxt = f"{fake.url}{parts.path}?per_page={size}&page={page + 1}"
                        headers.append(("Link", f'<{nxt}>; rel="next", <{nxt}>; rel="last"'))
                    return self.answer(200, chunk, headers)
                if listing and method == "POST":
                    return self.answer(201, fake.add(body["body"], "github-actions[bot]", "Bot"))
                if one and method == "PATCH":
                    for item in fake.comments:
                        if item["id"] == int(one.group(1)):
                            item["body"] = body["body"]
                            return self.answer(200, item)
                return self.answer(404, {"message": "Not Found"})

            def do_GET(self):
                self.handle_call("GET")

            def do_POST(self):
                self.handle_call("POST")

            def do_PATCH(self):
                self.handle_call("PATCH")

        return Handler
