"""The baseline: a bare FastAPI endpoint that parses the same JSON body and answers 201."""

from fastapi import FastAPI, Request

app = FastAPI()


@app.post("/v1/requests", status_code=201)
async def accept(request: Request) -> dict:
    body = await request.json()
    return {"id": "bare", "type": body["type"]}


@app.get("/v1/verifications/{code}")
async def verification(code: str) -> dict:
    """The reference for bench/verification.py: a JSON body of the verification's shape, nothing looked up."""
    return {"code": code, "status": "valid", "status_name": "有效", "unit": {"code": "440112.tax"}, "sha256": "0" * 64}
