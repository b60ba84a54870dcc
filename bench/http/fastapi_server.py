"""The stream route of agentrt-server written the way a Python team would write it:
FastAPI under uvicorn (uvloop and httptools when installed), several worker processes, the
tokens streamed from an OpenAI-compatible model server with one shared httpx.AsyncClient per
worker (what the OpenAI Python SDK uses; `--model-client aiohttp` for an aiohttp
ClientSession instead), and each answer a StreamingResponse fed by an async generator.

It writes the events agentrt-server writes for its `assistant` agent: `retry: 2000`, then
started, phase "generating", one chunk event per piece of text from the model, and
completed with the whole answer (or failed when the model does), each as
    id: 1:<seq>
    event: <kind>
    data: {"session_id", "call_id": 1, "seq", "agent", "data"[, "turn"][, "error"]}

    /usr/bin/python3 fastapi_server.py --llm-url http://127.0.0.1:PORT/v1 [--port 0] [--workers 2]
        [--model-client httpx|aiohttp]

The first stdout line is "listening on http://HOST:PORT". Routes: POST and GET
/v1/agents/assistant/stream, GET /health. Needs python3-fastapi, python3-uvicorn and
python3-httpx, python3-aiohttp (python3-uvloop and python3-httptools make uvicorn faster).
"""

import argparse
import contextlib
import json
import os
import socket
import sys
import uuid
from typing import AsyncIterator, Optional

import aiohttp
import httpx
import uvicorn
from fastapi import FastAPI
from fastapi.responses import JSONResponse, StreamingResponse
from pydantic import BaseModel
from uvicorn.supervisors import Multiprocess

LLM_URL = os.environ.get("AGENTRT_LLM_URL", "http://127.0.0.1:8000/v1").rstrip("/")
MODEL_CLIENT = os.environ.get("AGENTRT_MODEL_CLIENT", "httpx")  # or "aiohttp"
AGENTS = {"assistant"}
SYSTEM_PROMPT = "You are a concise, helpful assistant."

app = FastAPI()


class StreamRequest(BaseModel):
    input: str
    session_id: Optional[str] = None


@app.on_event("startup")
async def open_model_client() -> None:
    # One pooled client per worker; every stream is a request of its own, so the pool must
    # not cap how many run at once.
    if MODEL_CLIENT == "aiohttp":
        app.state.llm = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(limit=0),
            timeout=aiohttp.ClientTimeout(total=None, sock_connect=60, sock_read=60),
        )
    else:
        app.state.llm = httpx.AsyncClient(
            base_url=LLM_URL,
            limits=httpx.Limits(max_connections=None, max_keepalive_connections=1000),
            timeout=httpx.Timeout(60.0),
        )


@app.on_event("shutdown")
async def close_model_client() -> None:
    if MODEL_CLIENT == "aiohttp":
        await app.state.llm.close()
    else:
        await app.state.llm.aclose()


def sse(session_id: str, seq: int, kind: str, data: str, **extra) -> str:
    payload = {"session_id": session_id, "call_id": 1, "seq": seq, "agent": "assistant",
               "data": data, **extra}
    return f"id: 1:{seq}\nevent: {kind}\ndata: {json.dumps(payload, separators=(',', ':'))}\n\n"


async def model_lines(body: dict) -> AsyncIterator[str]:
    """The lines of the model server's streamed answer to `body`."""
    if MODEL_CLIENT == "aiohttp":
        async with app.state.llm.post(f"{LLM_URL}/chat/completions", json=body) as response:
            response.raise_for_status()
            async for line in response.content:
                yield line.decode()
    else:
        async with app.state.llm.stream("POST", "/chat/completions", json=body) as response:
            response.raise_for_status()
            async for line in response.aiter_lines():
                yield line


async def model_tokens(text: str) -> AsyncIterator[str]:
    """The pieces of the model's streamed answer to `text`."""
    body = {
        "model": "mock",
        "stream": True,
        "messages": [{"role": "system", "content": SYSTEM_PROMPT},
                     {"role": "user", "content": text}],
    }
    async with contextlib.aclosing(model_lines(body)) as lines:
        async for line in lines:
            if not line.startswith("data:"):
                continue
            payload = line[len("data:"):].strip()
            if payload == "[DONE]":
                break
            delta = json.loads(payload)["choices"][0].get("delta", {})
            if delta.get("content"):
                yield delta["content"]


async def call_events(text: str, session_id: str) -> AsyncIterator[str]:
    yield "retry: 2000\n\n"
    seq = 0

    def event(kind: str, data: str, **extra) -> str:
        nonlocal seq
        seq += 1
        return sse(session_id, seq, kind, data, **extra)

    yield event("started", "")
    yield event("phase", "generating")
    answer = []
    try:
        async for piece in model_tokens(text):
            answer.append(piece)
            yield event("chunk", piece)
    except (httpx.HTTPError, aiohttp.ClientError, ValueError, KeyError, IndexError) as e:
        message = f"model request failed: {e}"
        yield event("failed", message, turn=1, error={"code": "agent_failed", "message": message})
        return
    yield event("completed", "".join(answer), turn=1)


def error(status: int, code: str, message: str) -> JSONResponse:
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)


def stream(agent: str, text: str, session_id: Optional[str]):
    if agent not in AGENTS:
        return error(404, "unknown_agent", f"no agent {agent}")
    session_id = session_id or uuid.uuid4().hex
    return StreamingResponse(call_events(text, session_id), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache", "X-Session-Id": session_id})


@app.post("/v1/agents/{agent}/stream")
async def stream_post(agent: str, body: StreamRequest):
    return stream(agent, body.input, body.session_id)


@app.get("/v1/agents/{agent}/stream")
async def stream_get(agent: str, input: str, session_id: Optional[str] = None):
    return stream(agent, input, session_id)


@app.get("/health")
async def health():
    return {"status": "ok"}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--llm-url", default=LLM_URL)
    parser.add_argument("--model-client", choices=["httpx", "aiohttp"], default=MODEL_CLIENT)
    args = parser.parse_args()
    # The workers import this module anew and read these.
    os.environ["AGENTRT_LLM_URL"] = args.llm_url
    os.environ["AGENTRT_MODEL_CLIENT"] = args.model_client

    # Bound here, before the workers start, so that --port 0 can say which port it got;
    # connections made before the workers are up wait in the backlog.
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((args.host, args.port))
    sock.listen(4096)
    port = sock.getsockname()[1]
    print(f"listening on http://{args.host}:{port}", flush=True)

    sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
    config = uvicorn.Config("fastapi_server:app", host=args.host, port=port,
                            workers=args.workers, backlog=4096, log_level="warning",
                            access_log=False)
    server = uvicorn.Server(config)
    if args.workers > 1:
        Multiprocess(config, target=server.run, sockets=[sock]).run()
    else:
        server.run(sockets=[sock])


if __name__ == "__main__":
    main()
