"""HTTP calls to an OpenAI-compatible server: many requests in flight, retries with backoff, one clear error.

The served connector sends one completions request per coalition. Requests run `concurrency` at a time
(a thread pool over one pooled `httpx.Client`); a 429, a 5xx, a timeout or a refused connection is retried
`max_retries` times with exponential backoff (the server's `Retry-After` where it sends one), then raised as
`ServedError`, which the connector turns into a failed row: the shard goes on. Once the server has been
unreachable after every retry, later requests fail at once (`unreachable`), so a dead server costs one
row's retries, not every row's. The API key is read from the environment by the caller and only ever
sent in the Authorization header: never logged, never part of an error message.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import httpx

_RETRIED_STATUS = {408, 409, 425, 429, 500, 502, 503, 504}


class ServedError(Exception):
    """A request that failed after its retries; `kind` is `unreachable`, `http_<status>` or `bad_response`."""

    def __init__(self, kind: str, message: str):
        super().__init__(f"{kind}: {message}")
        self.kind = kind
        self.message = message


@dataclass(frozen=True)
class RetryPolicy:
    max_retries: int = 4
    backoff_s: float = 0.5
    max_backoff_s: float = 8.0

    def delay(self, attempt: int, retry_after: str | None) -> float:
        if retry_after:
            try:
                return min(float(retry_after), self.max_backoff_s)
            except ValueError:
                pass  # an HTTP date: fall back to our own schedule
        return min(self.backoff_s * 2**attempt, self.max_backoff_s)


class CompletionsClient:
    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        *,
        concurrency: int = 8,
        timeout_s: float = 60.0,
        retry: RetryPolicy | None = None,
    ):
        self.base_url = base_url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
        self._http = httpx.Client(headers=headers, timeout=timeout_s, limits=limits)
        self._pool = ThreadPoolExecutor(max_workers=concurrency, thread_name_prefix="served")
        self.retry = retry or RetryPolicy()
        self.unreachable = False
        self.requests = 0
        self.retries = 0

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        self._http.close()

    def get(self, path: str) -> dict:
        return self._call("GET", path, None)

    def post(self, path: str, payload: dict) -> dict:
        return self._call("POST", path, payload)

    def post_many(self, path: str, payloads: list[dict]) -> list[dict]:
        """Every payload's response, in order; the first `ServedError` is raised after all have ended."""
        futures = [self._pool.submit(self.post, path, p) for p in payloads]
        results, first_error = [], None
        for future in futures:
            try:
                results.append(future.result())
            except ServedError as error:
                first_error = first_error or error
                results.append(None)
        if first_error is not None:
            raise first_error
        return results

    def _call(self, method: str, path: str, payload: dict | None) -> dict:
        url = f"{self.base_url}{path}"
        for attempt in range(self.retry.max_retries + 1):
            if self.unreachable:
                raise ServedError("unreachable", f"{self.base_url} did not answer earlier requests; not retrying")
            last = attempt == self.retry.max_retries
            retry_after = None
            try:
                self.requests += 1
                response = self._http.request(method, url, json=payload)
            except (httpx.TimeoutException, httpx.TransportError) as error:
                if last:
                    if isinstance(error, httpx.ConnectError):
                        self.unreachable = True
                        raise ServedError("unreachable", f"{url}: {type(error).__name__}: {error}") from None
                    raise ServedError("timeout", f"{url}: {type(error).__name__} after {attempt + 1} tries") from None
            else:
                if response.status_code < 400:
                    try:
                        return response.json()
                    except ValueError:
                        raise ServedError("bad_response", f"{url}: the answer is not JSON") from None
                if response.status_code not in _RETRIED_STATUS or last:
                    raise ServedError(f"http_{response.status_code}", f"{url}: {_error_text(response)}")
                retry_after = response.headers.get("retry-after")
            self.retries += 1
            time.sleep(self.retry.delay(attempt, retry_after))
        raise AssertionError("unreachable: the loop returns or raises")


def _error_text(response: httpx.Response) -> str:
    """The server's own error message, short (some servers echo the request; never the headers)."""
    try:
        body = response.json()
        message = body.get("error", body) if isinstance(body, dict) else body
        if isinstance(message, dict):
            message = message.get("message", message)
        text = str(message)
    except ValueError:
        text = response.text
    return text[:500]
