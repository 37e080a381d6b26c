"""Several async streams consumed at once, their items in the order they come.

A request with `n > 1` or a list of prompts runs its completions side by side
(the llama.cpp engine decodes them as parallel sequences in one batch), and
the answer interleaves their deltas as they arrive. An error in one stream
stops the others and is raised to the consumer.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

_END = object()


async def merged(streams: list[AsyncIterator]) -> AsyncIterator:
    if len(streams) == 1:
        async for item in streams[0]:
            yield item
        return
    queue: asyncio.Queue = asyncio.Queue()

    async def pump(stream: AsyncIterator) -> None:
        try:
            async for item in stream:
                queue.put_nowait(item)
        except Exception as exc:  # handed to the consumer, which raises it
            queue.put_nowait(exc)
        finally:
            queue.put_nowait(_END)

    tasks = [asyncio.create_task(pump(s)) for s in streams]
    try:
        ended = 0
        while ended < len(tasks):
            item = await queue.get()
            if item is _END:
                ended += 1
            elif isinstance(item, Exception):
                raise item
            else:
                yield item
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
