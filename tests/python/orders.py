# Description: the ordering claims of docs/python.md, run with the standard
# library only: a lazily started asyncio task sends only after its creator's
# synchronous work; an eager one (Python 3.12+) before it; a blocking call in
# a coroutine holds back a timer callback; BlockingIOError is EAGAIN.
import asyncio
import errno
import socket
import sys
import time

order = []


async def download(tag):
    order.append(tag + " sent")
    await asyncio.sleep(0.01)
    order.append(tag + " done")


async def lazy():
    task = asyncio.create_task(download("lazy"))
    order.append("lazy work")  # synchronous: the task has not run yet
    await task


async def eager():
    asyncio.get_running_loop().set_task_factory(asyncio.eager_task_factory)
    task = asyncio.create_task(download("eager"))
    order.append("eager work")
    await task


async def stalled():
    loop = asyncio.get_running_loop()
    due = time.monotonic() + 0.005
    fired = []
    loop.call_later(0.005, lambda: fired.append(time.monotonic()))
    await asyncio.sleep(0)
    time.sleep(0.05)  # a blocking call inside the loop
    await asyncio.sleep(0)
    await asyncio.sleep(0)
    return fired[0] - due if fired else None


asyncio.run(lazy())
assert order[:2] == ["lazy work", "lazy sent"], order
if sys.version_info >= (3, 12):
    order.clear()
    asyncio.run(eager())
    assert order[:2] == ["eager sent", "eager work"], order
late = asyncio.run(stalled())
assert late is not None and late >= 0.04, late

a, b = socket.socketpair()
a.setblocking(False)
try:
    a.recv(10)
    raise AssertionError("recv on an empty socket returned")
except BlockingIOError as e:
    assert e.errno == errno.EAGAIN, e.errno
print("ok")
