"""A mock Hugging Face hub on 127.0.0.1 for the download tests: the API routes the client uses
(/api/models/{repo}/revision/{rev}, /api/models/{repo}/tree/{commit} with Link pagination), resolve/{rev}/{file}
with a 302 to a CDN route for LFS files, ETags, Range requests, and failure modes (cut mid-file, corrupt bytes,
gated repo)."""
import hashlib
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlparse, parse_qs

LFS_SUFFIXES = (".safetensors", ".gguf", ".bin")


def git_blob_sha1(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Repo:
    def __init__(self, repo_id: str, folder: Path, gated_token: str = ""):
        self.id = repo_id
        self.files = {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}
        self.commit = hashlib.sha1(repo_id.encode()).hexdigest()
        self.gated_token = gated_token

    def entry(self, name):
        data = self.files[name]
        e = {"type": "file", "path": name, "size": len(data), "oid": git_blob_sha1(data)}
        if name.endswith(LFS_SUFFIXES):
            e["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data), "pointerSize": 130}
        return e


class MockHub:
    def __init__(self, repos):
        self.repos = {r.id: r for r in repos}
        self.requests = []  # (method, path, Range header)
        self.cut_after = None   # bytes: the next LFS response stops after this many bytes (connection closed)
        self.corrupt = False    # LFS responses carry one flipped byte
        self.lock = threading.Lock()
        hub = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def send_json(self, status, obj, extra=None):
                body = json.dumps(obj).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in (extra or {}).items():
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def authorized(self, repo):
                return not repo.gated_token or self.headers.get("Authorization") == f"Bearer {repo.gated_token}"

            def do_GET(self):
                with hub.lock:
                    hub.requests.append(("GET", self.path, self.headers.get("Range")))
                url = urlparse(self.path)
                parts = [unquote(p) for p in url.path.strip("/").split("/")]
                if parts[:2] == ["api", "models"] and len(parts) >= 6:
                    repo = hub.repos.get("/".join(parts[2:4]))
                    kind, rev = parts[4], "/".join(parts[5:])
                    if repo is None:
                        return self.send_json(404, {"error": "Repository not found"})
                    if not self.authorized(repo):
                        return self.send_json(401, {"error": "Access to this model is restricted"})
                    if rev not in ("main", repo.commit):
                        return self.send_json(404, {"error": f"Invalid rev id: {rev}"})
                    if kind == "revision":
                        return self.send_json(200, {"id": repo.id, "sha": repo.commit,
                                                    "siblings": [{"rfilename": n} for n in repo.files]})
                    if kind == "tree":
                        names = list(repo.files)
                        cursor = int(parse_qs(url.query).get("cursor", ["0"])[0])
                        page = names[cursor:cursor + 2]  # two per page: the client must follow Link
                        extra = {}
                        if cursor + 2 < len(names):
                            nxt = f"http://{self.headers['Host']}{url.path}?recursive=true&cursor={cursor + 2}"
                            extra["Link"] = f'<{nxt}>; rel="next"'
                        return self.send_json(200, [repo.entry(n) for n in page], extra)
                if len(parts) >= 5 and parts[2] == "resolve":
                    repo = hub.repos.get("/".join(parts[:2]))
                    if repo is None:
                        return self.send_json(404, {"error": "Repository not found"})
                    if not self.authorized(repo):
                        return self.send_json(401, {"error": "Access restricted"})
                    rev, name = parts[3], "/".join(parts[4:])
                    if rev not in ("main", repo.commit) or name not in repo.files:
                        return self.send_json(404, {"error": "Entry not found"})
                    e = repo.entry(name)
                    if "lfs" in e:  # like the hub: LFS content comes from the CDN
                        self.send_response(302)
                        self.send_header("Location", f"/cdn/{repo.id}/{e['lfs']['oid']}")
                        self.send_header("X-Linked-Etag", f'"{e["lfs"]["oid"]}"')
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    return self.send_blob(repo.files[name], e["oid"], lfs=False)
                if parts[0] == "cdn":
                    repo = hub.repos.get("/".join(parts[1:3]))
                    for name, data in (repo.files if repo else {}).items():
                        if hashlib.sha256(data).hexdigest() == parts[3]:
                            return self.send_blob(data, parts[3], lfs=True)
                return self.send_json(404, {"error": "not found"})

            def send_blob(self, data, etag, lfs):
                if lfs and hub.corrupt:
                    data = bytes([data[0] ^ 0xFF]) + data[1:]
                start = 0
                rng = self.headers.get("Range")
                if rng and rng.startswith("bytes="):
                    start = int(rng[6:].split("-")[0])
                    if start >= len(data):
                        self.send_response(416)
                        self.send_header("Content-Range", f"bytes */{len(data)}")
                        self.send_header("Content-Length", "0")
                        self.end_headers()
                        return
                    self.send_response(206)
                    self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
                else:
                    self.send_response(200)
                body = data[start:]
                self.send_header("ETag", f'"{etag}"')
                self.send_header("Accept-Ranges", "bytes")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                with hub.lock:
                    cut, hub.cut_after = (hub.cut_after, None) if lfs and hub.cut_after is not None else (None, hub.cut_after)
                if cut is not None:
                    self.wfile.write(body[:cut])
                    self.wfile.flush()
                    self.close_connection = True
                    return
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *a):
        self.stop()

    def stop(self):
        if self.server:
            self.server.shutdown()
            self.server.server_close()
            self.server = None
