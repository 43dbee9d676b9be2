"""The baseline: a bare FastAPI endpoint that parses the same JSON body and answers 201."""

from fastapi import FastAPI, Request

app = FastAPI()


@app.post("/v1/requests", status_code=201)
async def accept(request: Request) -> dict:
    body = await request.json()
    return {"id": "bare", "type": body["type"]}
