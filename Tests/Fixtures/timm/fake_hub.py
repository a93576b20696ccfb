#!/usr/bin/env python3
"""A stand-in for the Hugging Face hub's file endpoints, for featx's download tests (standard library only).

    python3 fake_hub.py ROOT COMMIT [--bad-sha256 FILE] [--bind 127.0.0.1]

Serves ROOT/ORG/NAME/FILE as the hub serves a repository at one commit, with the headers huggingface_hub
reads (file_download.py, `get_hf_file_metadata`): `HEAD|GET /ORG/NAME/resolve/REVISION/FILE`, REVISION
`main` or COMMIT:

- a weights file (.safetensors, .bin: LFS on the hub) answers 302 to `http://localhost:PORT/lfs/<sha256>`,
  another origin than 127.0.0.1 as the hub's CDN is, with `X-Linked-Etag: "<sha256>"`, `X-Linked-Size`,
  `X-Repo-Commit`; `GET /lfs/<sha256>` serves the bytes;
- any other file answers 200 with `ETag: "<git blob id>"`, `X-Repo-Commit` and the bytes;
- a missing file answers 404 with `X-Error-Code: EntryNotFound` (the repository exists) or
  `RepositoryNotFound`;
- `/timm/renamed/resolve/...` answers 307 to the same path under `/timm/resnet18.a1_in1k` (a renamed
  repository: a redirect on the hub's own origin, which clients follow);
- `--bad-sha256 FILE` announces a wrong sha256 for FILE (its bytes are served unchanged).

Binds an ephemeral port and prints it on the first line of stdout; every request is appended to
ROOT/../requests.log as "METHOD PATH".
"""
import argparse
import hashlib
import http.server
import sys
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("root")
parser.add_argument("commit")
parser.add_argument("--bad-sha256", action="append", default=[])
parser.add_argument("--bind", default="127.0.0.1")
args = parser.parse_args()
ROOT = Path(args.root)
LOG = ROOT.parent / "requests.log"


def git_blob_id(data: bytes) -> str:
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Hub(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a):
        pass

    def answer(self, status, headers, body=b"", send_body=True):
        self.send_response(status)
        for k, v in headers.items():
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if send_body:
            self.wfile.write(body)

    def handle_any(self, send_body):
        with LOG.open("a") as log:
            log.write(f"{self.command} {self.path}\n")
        parts = self.path.split("/")
        port = self.server.server_address[1]
        if len(parts) == 3 and parts[1] == "lfs":
            for f in ROOT.rglob("*"):
                if f.is_file() and hashlib.sha256(f.read_bytes()).hexdigest() == parts[2]:
                    return self.answer(200, {"Content-Type": "application/octet-stream"}, f.read_bytes(), send_body)
            return self.answer(404, {})
        # /ORG/NAME/resolve/REVISION/FILE
        if len(parts) < 6 or parts[3] != "resolve":
            return self.answer(404, {"X-Error-Code": "RepositoryNotFound"})
        org, name, revision, file = parts[1], parts[2], parts[4], "/".join(parts[5:])
        if (org, name) == ("timm", "renamed"):
            return self.answer(307, {"Location": "/timm/resnet18.a1_in1k/" + "/".join(parts[3:])})
        repo = ROOT / org / name
        if not repo.is_dir() or revision not in ("main", args.commit):
            return self.answer(404, {"X-Error-Code": "RepositoryNotFound", "X-Error-Message": "Repository not found"})
        path = repo / file
        common = {"X-Repo-Commit": args.commit}
        if not path.is_file():
            return self.answer(404, {**common, "X-Error-Code": "EntryNotFound", "X-Error-Message": "Entry not found"})
        data = path.read_bytes()
        if path.suffix in (".safetensors", ".bin"):
            sha = hashlib.sha256(data).hexdigest()
            announced = "0" * 64 if file in args.bad_sha256 else sha
            return self.answer(302, {**common, "X-Linked-Etag": f'"{announced}"', "X-Linked-Size": str(len(data)),
                                     "ETag": f'"{git_blob_id(data)}"', "Location": f"http://localhost:{port}/lfs/{sha}"})
        return self.answer(200, {**common, "ETag": f'"{git_blob_id(data)}"'}, data, send_body)

    def do_HEAD(self):
        self.handle_any(False)

    def do_GET(self):
        self.handle_any(True)


server = http.server.ThreadingHTTPServer((args.bind, 0), Hub)
print(server.server_address[1], flush=True)
server.serve_forever()
