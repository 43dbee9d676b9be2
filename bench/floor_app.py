"""The second reference, the floor of "accept and keep": a bare FastAPI endpoint that parses the same
JSON body and stores it as one row by one INSERT in one transaction over raw asyncpg (a pool of
20, as intake's), then answers 201. No authentication, no validation, no outbox, no relay: what
any endpoint that keeps what it accepts pays at least, on this machine's PostgreSQL.

The table is created by bench/intake.py in the run's fresh database (``FLOOR_DSN``)."""

import json
import os
import uuid
from contextlib import asynccontextmanager

import asyncpg
from fastapi import FastAPI, Request

TABLE = "CREATE TABLE IF NOT EXISTS floor_requests (id text PRIMARY KEY, body jsonb NOT NULL)"


@asynccontextmanager
async def lifespan(app: FastAPI):
    app.state.pool = await asyncpg.create_pool(os.environ["FLOOR_DSN"], min_size=20, max_size=20)
    yield
    await app.state.pool.close()


app = FastAPI(lifespan=lifespan)


@app.post("/v1/requests", status_code=201)
async def accept(request: Request) -> dict:
    body = await request.json()
    request_id = str(uuid.uuid4())
    async with request.app.state.pool.acquire() as conn, conn.transaction():
        await conn.execute("INSERT INTO floor_requests (id, body) VALUES ($1, $2)", request_id, json.dumps(body))
    return {"id": request_id, "type": body["type"]}
