"""Every fault the client must survive, in the chat app: a clear error, nothing lost, and the next request works."""

from __future__ import annotations

import socket
from typing import Any

import pytest

from chatbot.ui.app import make_app
from chatbot.ui.widgets.prompt_input import PromptInput
from fake_openai import Error, FakeOpenAI, Hang, Reply
from support import SIZE, send, until, views, wait_turn
from support import TEST_API_KEY as KEY

BEFORE_FIRST_TOKEN = {
    "401": (Error(401, f"Incorrect API key provided: {KEY}", code="invalid_api_key"), "authentication failed"),
    "403": (Error(403, "Project does not have access", type="permission_error"), "permission denied"),
    "404": (Error(404, "The model does not exist", code="model_not_found"), "not found"),
    "400-context": (Error(400, "This model's maximum context length is 128000 tokens",
                          code="context_length_exceeded"), "context too long"),
    "400-other": (Error(400, "Invalid value for 'temperature'", param="temperature"), "refused the request"),
    "429-retry-after": (Error(429, "Rate limit reached", type="requests", retry_after=1), "rate limited"),
    "429-no-header": (Error(429, "Rate limit reached", type="requests"), "rate limited"),
    "429-quota": (Error(429, "You exceeded your current quota", type="insufficient_quota",
                        code="insufficient_quota"), "quota"),
    "500": (Error(500, "The server had an error", type="server_error"), "server error (500)"),
    "502": (Error(502, "Bad gateway", type="server_error"), "server error (502)"),
    "503": (Error(503, "Overloaded", type="server_error"), "server error (503)"),
    "never-answers": (Hang(), "no answer"),
    "malformed-first": (Reply(["never shown"], malformed_after=0), "malformed"),
    "error-in-stream-first": (Reply([], error_in_stream={"message": "model crashed", "code": 500}),
                              "model crashed"),
}


@pytest.mark.parametrize("fault", list(BEFORE_FIRST_TOKEN), ids=list(BEFORE_FIRST_TOKEN))
async def test_failure_before_first_token(fault: str, fake: FakeOpenAI, make_settings: Any) -> None:
    response, expected = BEFORE_FIRST_TOKEN[fault]
    fake.queue(response, Reply("recovered"))
    # A short timeout only where the fault is the server never answering: a loaded machine is slow too.
    app = make_app(make_settings(max_retries=0, timeout=1.0 if fault == "never-answers" else 30.0, api_key=KEY))
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "keep these words")
        fake.release()
        assert [role for role, _ in views(app)] == ["user", "error"]
        error = views(app)[-1][1]
        assert expected in error.lower() or expected in error
        assert KEY not in error and "SECRETSECRET" not in error
        # The words are back in the prompt, the conversation holds no half turn, nothing was billed.
        assert app.query_one(PromptInput).text == "keep these words"
        assert app.session.conversation.messages == []
        assert app.session.totals.completion_tokens == 0
        await pilot.press("enter")
        await wait_turn(pilot)
        assert app.session.conversation.messages[-1].content == "recovered"
        assert fake.last_body["messages"][-1]["content"] == "keep these words"


def test_connection_refused_in_app(make_settings: Any) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]

    async def run() -> None:
        app = make_app(make_settings(base_url=f"http://127.0.0.1:{port}/v1", max_retries=0, api_key=KEY))
        async with app.run_test(size=SIZE) as pilot:
            await send(pilot, "anyone there?")
            assert views(app)[-1][0] == "error" and "cannot reach" in views(app)[-1][1]
            assert app.query_one(PromptInput).text == "anyone there?"

    import asyncio

    asyncio.run(run())


MID_STREAM = {
    "dropped": Reply(["partial ", "answer ", "lost"], drop_after=2),
    "malformed": Reply(["partial ", "answer ", "lost"], malformed_after=2),
    "error-in-stream": Reply(["partial ", "answer "], error_in_stream={"message": "slot crashed"}),
    "done-without-finish": Reply(["partial ", "answer "], finish_reason=None),
    "eof-without-finish": Reply(["partial ", "answer "], finish_reason=None, send_done=False, chunked=False),
}


@pytest.mark.parametrize("fault", list(MID_STREAM), ids=list(MID_STREAM))
async def test_failure_mid_stream_keeps_the_partial_reply(fault: str, fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(MID_STREAM[fault], Reply("the next one works"))
    app = make_app(make_settings(max_retries=2))
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "tell me")
        assert len(fake.chat_requests) == 1  # a reply that had started is never retried
        reply = app.session.conversation.last_reply()
        assert reply is not None and reply.content == "partial answer " and reply.error
        assert [role for role, _ in views(app)] == ["user", "assistant", "error"]
        assert views(app)[1][1] == "partial answer "
        assert "broke off" in app.screen.transcript.views()[1].note
        assert app.session.totals.completion_tokens > 0  # what streamed is counted
        await send(pilot, "again")
        assert app.session.conversation.messages[-1].content == "the next one works"
        assert [m["content"] for m in fake.last_body["messages"][1:]] == ["tell me", "partial answer ", "again"]


@pytest.mark.parametrize("reply", [Reply(["no ", "done"], send_done=False), Reply(["no ", "usage"], send_usage=False)],
                         ids=["no-done", "no-usage"])
async def test_stream_without_done_or_usage_still_completes(reply: Reply, fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(reply)
    app = make_app(make_settings())
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "hi")
        last = app.session.conversation.last_reply()
        assert last is not None and last.content == "".join(reply.chunks) and not last.partial
        assert app.session.last_usage is not None and app.session.last_usage.completion_tokens > 0


async def test_retry_countdown_shows_and_escape_stops_it(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(Error(429, "Rate limit reached", type="requests", retry_after=30))
    app = make_app(make_settings(max_retries=2, retry_max_wait=60))
    async with app.run_test(size=SIZE) as pilot:
        app.query_one(PromptInput).insert("patience")
        await pilot.press("enter")
        screen = app.screen
        await until(pilot, lambda: screen.reply_view is not None and "retrying in" in screen.reply_view.note)
        assert "rate limited" in screen.reply_view.note
        await pilot.press("escape")
        await wait_turn(pilot)
        assert len(fake.chat_requests) == 1
        assert app.query_one(PromptInput).text == "patience"
        assert app.session.conversation.messages == []


async def test_huge_paste_and_empty_messages(fake: FakeOpenAI, make_settings: Any) -> None:
    big = ("lorem ipsum dolor sit amet " * 40_000)[:1_000_000]
    fake.queue(Reply("got it"))
    app = make_app(make_settings(model="gpt-4.1-mini"))
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("space", "space", "enter")  # only whitespace: nothing is sent
        assert fake.chat_requests == []
        app.query_one(PromptInput).clear()
        await send(pilot, big)
        assert fake.last_body["messages"][-1]["content"] == big
        assert views(app)[-1] == ("assistant", "got it")


async def test_failed_regenerate_keeps_the_old_reply_on_screen(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(Reply("the old answer"), Error(503, "Overloaded", type="server_error"))
    app = make_app(make_settings(max_retries=0))
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "question")
        await pilot.press("ctrl+r")
        await wait_turn(pilot)
        shown = [(v.role, v.text) for v in app.screen.transcript.views() if v.display]
        assert shown[:2] == [("user", "question"), ("assistant", "the old answer")]
        assert shown[2][0] == "error"
        assert [m.content for m in app.session.conversation.messages] == ["question", "the old answer"]


async def test_failed_send_leaves_the_context_counter_as_it_was(fake: FakeOpenAI, make_settings: Any) -> None:
    fake.queue(Error(500, "down", type="server_error"))
    app = make_app(make_settings(max_retries=0))
    async with app.run_test(size=SIZE) as pilot:
        await send(pilot, "nothing goes out")
        assert app.session.last_window is None
        assert "ctx 0/" in str(app.screen.query_one("StatusBar").render())
