"""The floor of the terminal benchmark: the bare openai SDK printing each delta to the terminal as it arrives.

A line read is a message sent (OPENAI_BASE_URL and OPENAI_API_KEY from the environment); nothing is rendered,
wrapped or kept, so no terminal client can show a reply sooner or with less work. The SDK is imported before
the prompt is shown, as a client that is ready has done.
"""

from __future__ import annotations

import sys

import openai

PROMPT = "floor> "


def main() -> int:
    client = openai.OpenAI(max_retries=0)
    while True:
        try:
            message = input(PROMPT)
        except EOFError:
            return 0
        stream = client.chat.completions.create(
            model="gpt-4o-mini", messages=[{"role": "user", "content": message}], stream=True)
        for chunk in stream:
            if chunk.choices and chunk.choices[0].delta.content:
                sys.stdout.write(chunk.choices[0].delta.content)
                sys.stdout.flush()
        sys.stdout.write("\n")


if __name__ == "__main__":
    sys.exit(main())
