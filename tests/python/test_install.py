"""`pip install .` into a fresh venv, offline, then tokmeter used from outside
the repository: JSONL, protobuf and OTLP to a local receiver, and mocked
Anthropic and OpenAI streaming calls through the transport.

The install builds the extension with the project's CMake; to stay quick it
reuses the configured build tree ctest runs from (TOKMETER_CMAKE_BUILD_DIR),
so only the copy of a clean source tree, the venv and pip's own work remain.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import unittest

import provider_data as P
from otlp_receiver import Receiver

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BUILD_DIR = os.environ.get("TOKMETER_CMAKE_BUILD_DIR")

# Runs in the venv, from a directory outside the repository, with no PYTHONPATH.
CHILD = textwrap.dedent(r'''
    import json, os, sys
    import httpx, tokmeter

    work, otlp_url = sys.argv[1], sys.argv[2]
    stream = {"anthropic": bytes.fromhex(sys.argv[3]), "openai": bytes.fromhex(sys.argv[4])}

    class Chunks(httpx.SyncByteStream):
        def __init__(self, data):
            self.data = data
        def __iter__(self):
            for i in range(0, len(self.data), 97):  # 97-byte chunks: cuts inside events
                yield self.data[i:i + 97]

    def provider(request):
        data = stream["anthropic" if "anthropic" in request.url.host else "openai"]
        return httpx.Response(200, headers={"content-type": "text/event-stream"},
                              stream=Chunks(data))

    tokmeter.start(os.path.join(work, "usage.jsonl"), sinks=[
        tokmeter.ProtobufSink(os.path.join(work, "usage.pb")),
        tokmeter.OtlpSink(endpoint=otlp_url, flush_timeout=10)], memory=True)
    client = tokmeter.httpx_client(transport=httpx.MockTransport(provider))
    with tokmeter.trace("session", "installed"):
        with client.stream("POST", "https://api.anthropic.com/v1/messages",
                           json={"model": "claude-sonnet-4-5", "max_tokens": 64,
                                 "stream": True, "messages": []}) as r:
            r.read()
        with client.stream("POST", "https://api.openai.com/v1/chat/completions",
                           json={"model": "gpt-4.1", "stream": True, "messages": [],
                                 "stream_options": {"include_usage": True}}) as r:
            r.read()
    spans = [s for s in tokmeter.memory_spans() if s["kind"] == "llm"]
    tokmeter.shutdown()
    print(json.dumps({
        "module": tokmeter.__file__,
        "spans": {s["tags"]["provider"]: s["counters"] for s in spans},
        "report": tokmeter.report(os.path.join(work, "usage.jsonl"))["totals"],
        "report_pb": tokmeter.report(os.path.join(work, "usage.pb"))["totals"],
    }))
''')


@unittest.skipUnless(BUILD_DIR, "set TOKMETER_CMAKE_BUILD_DIR to a configured build tree "
                                "(ctest does) to run the install test")
class InstallTest(unittest.TestCase):
    def test_pip_install_into_a_fresh_venv(self):
        work = tempfile.mkdtemp(prefix="tokmeter_install_")
        self.addCleanup(shutil.rmtree, work, True)
        # A clean tree: what a clone has (no build trees, no caches).
        src = os.path.join(work, "src")
        shutil.copytree(ROOT, src, ignore=shutil.ignore_patterns(
            ".git", "build", "build-*", "out", "__pycache__", "*.egg-info"))
        venv = os.path.join(work, "venv")
        # --system-site-packages: Debian's setuptools, wheel and httpx, offline.
        subprocess.run([sys.executable, "-m", "venv", "--system-site-packages", venv],
                       check=True, timeout=120)
        py = os.path.join(venv, "bin", "python")
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
        env.update(TOKMETER_CMAKE_BUILD_DIR=BUILD_DIR, PIP_DISABLE_PIP_VERSION_CHECK="1")
        r = subprocess.run([py, "-m", "pip", "install", "--no-build-isolation", "--no-deps",
                            "--no-index", src], env=env, capture_output=True, text=True,
                           timeout=600)
        self.assertEqual(r.returncode, 0, r.stdout[-3000:] + r.stderr[-3000:])

        receiver = Receiver()
        self.addCleanup(receiver.close)
        outside = os.path.join(work, "elsewhere")
        os.mkdir(outside)
        run = subprocess.run([py, "-c", CHILD, outside, receiver.url,
                              P.ANTHROPIC_STREAM.hex(), P.OPENAI_CHAT_STREAM.hex()],
                             cwd=outside, env=env, capture_output=True, text=True, timeout=120)
        self.assertEqual(run.returncode, 0, run.stderr)
        out = json.loads(run.stdout)
        self.assertTrue(out["module"].startswith(venv), out["module"])  # the installed copy
        # Each span's usage is its stream's (worked out in provider_data).
        for provider, expected in (("anthropic", P.ANTHROPIC_STREAM_USAGE),
                                   ("openai", P.OPENAI_CHAT_STREAM_USAGE)):
            counters = out["spans"][provider]
            self.assertEqual({k: counters.get(k, 0) for k in expected}, expected, provider)
        # JSONL and protobuf hold both calls: 8 + 86 input, 57 + 300 output.
        for totals in (out["report"], out["report_pb"]):
            self.assertEqual(totals["input_tokens"], 8 + 86)
            self.assertEqual(totals["output_tokens"], 57 + 300)
        # The collector got the session's three spans (root and two calls).
        _, spans = receiver.spans()
        llm = [s for s in spans if s["attributes"].get("tokmeter.kind") == "llm"]
        self.assertEqual(sorted(s["attributes"]["gen_ai.usage.output_tokens"] for s in llm),
                         [57, 300])
        # Typed, and the command installed with it.
        site = os.path.dirname(out["module"])
        self.assertTrue(os.path.exists(os.path.join(site, "py.typed")))
        self.assertTrue(os.path.exists(os.path.join(site, "_tokmeter.pyi")))
        cmd = subprocess.run([os.path.join(venv, "bin", "tokmeter"), "daily",
                              os.path.join(outside, "usage.jsonl")], env=env,
                             capture_output=True, text=True, timeout=60)
        self.assertEqual(cmd.returncode, 0, cmd.stderr)
        self.assertEqual(json.loads(cmd.stdout)["totals"]["output_tokens"], 357)


if __name__ == "__main__":
    unittest.main()
