"""Lambda execution environments for the local stack: one process each, reused while warm.

An environment is a fresh Python interpreter that sets the function's environment variables,
imports the handler once (its cold start), then runs one invocation at a time until it is closed,
as a warm Lambda environment does. Processes, not threads, so that concurrent invocations really
race (each has its own module state, clients and connections) and one can die without the others.

They are started with multiprocessing's *spawn* context: the poller's process runs threads and boto3
clients, which ``fork`` would copy in whatever state they are in; a fresh interpreter is also what a
cold start is. A pipe carries events in and responses out; the process's stdout and stderr are its
parent's, so the function's log lands where the runtime's does, with Lambda's START and END lines
around each invocation.

An invocation fails (``InvocationError``) when the handler raises, when the environment dies (a
SIGKILL, a crash, an import error) or when it overruns the function's timeout; a dead or timed-out
environment is discarded and the next invocation starts a new one.
"""

from __future__ import annotations

import importlib
import io
import multiprocessing
import os
import signal
import sys
import threading
import traceback
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import Any

from .context import LocalContext
from .provision import LocalFunction

# Lambda gives a cold start's init phase up to 10 s besides the function's timeout.
INIT_TIMEOUT_S = 10

_SPAWN = multiprocessing.get_context("spawn")


class InvocationError(RuntimeError):
    """The invocation failed: the handler raised, or its environment died or timed out."""


class ExecutionEnvironment:
    """One environment (a child process) of one function, seen from the poller."""

    def __init__(self, function: LocalFunction, log_path: Path | None = None):
        self.function = function
        self._warm = False  # until its first answer: the init (importing the handler) is done
        self._connection, child_end = _SPAWN.Pipe()
        self._process = _SPAWN.Process(
            target=_serve, args=(function, child_end, log_path), name=f"{function.name}-environment", daemon=True
        )
        self._process.start()
        child_end.close()  # so that the child's death reads as EOF here

    def alive(self) -> bool:
        return self._process.is_alive()

    def invoke(self, event: dict[str, Any]) -> Any:
        """The handler's response to ``event``; ``InvocationError`` if the invocation failed."""
        timeout = self.function.timeout_s + (0 if self._warm else INIT_TIMEOUT_S)
        try:
            self._connection.send(event)
            if not wait([self._connection, self._process.sentinel], timeout):
                self._process.kill()  # as Lambda ends a timed-out environment
                self._process.join()
                raise InvocationError(f"{self.function.name} timed out after {timeout} s")
            kind, value = self._connection.recv()  # EOFError if the process died instead of answering
        except (EOFError, OSError):
            self._process.join()
            raise InvocationError(f"the execution environment exited with code {self._process.exitcode}") from None
        self._warm = True
        if kind == "error":
            raise InvocationError(value)
        return value

    def close(self) -> None:
        """End the process: a closed pipe tells it to exit; kill it if it does not."""
        self._connection.close()
        self._process.join(5)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()


class EnvironmentPool:
    """A function's environments: a free warm one serves each invocation, else a new one starts.

    Its size is bounded by its callers: each poller lane invokes at most once at a time.
    """

    def __init__(self, function: LocalFunction, log_path: Path | None = None):
        self.function = function
        self.log_path = log_path  # where the environments' log goes; None: the parent's stdout
        self.started = 0  # cold starts, replacements included
        self._idle: list[ExecutionEnvironment] = []
        self._lock = threading.Lock()

    def invoke(self, event: dict[str, Any]) -> Any:
        environment = self._take()
        try:
            return environment.invoke(event)
        finally:
            if environment.alive():
                with self._lock:
                    self._idle.append(environment)
            else:
                environment.close()

    def close(self) -> None:
        """End the idle environments (call it when no invocation is running)."""
        with self._lock:
            idle, self._idle = self._idle, []
        for environment in idle:
            environment.close()

    def _take(self) -> ExecutionEnvironment:
        with self._lock:
            if self._idle:
                return self._idle.pop()  # the most recently used: the warmest
            self.started += 1
        return ExecutionEnvironment(self.function, self.log_path)


def _serve(function: LocalFunction, connection: Connection, log_path: Path | None = None) -> None:
    """The environment's process: init once, then one invocation at a time until the pipe closes.
    Its log goes to ``log_path`` when given, else where its parent's goes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C reaches the whole process group; the poller ends us
    if log_path is not None:
        log = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        for descriptor in (1, 2):
            os.dup2(log, descriptor)
    # Each log line and metric in the log as it happens, in one write: environments share the log
    # file, and print() writes a line's text and its newline apart when Python runs unbuffered.
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper):
            stream.reconfigure(line_buffering=True, write_through=False)
    os.environ.update(function.environment)
    module_name, _, attribute = function.handler.rpartition(".")
    handler = getattr(importlib.import_module(module_name), attribute)
    while True:
        try:
            event = connection.recv()
        except EOFError:
            return
        context = LocalContext(function.name, function.timeout_s)
        # Lambda's own lines around each invocation: a START without its END is one cut short.
        print(f"START RequestId: {context.aws_request_id} Version: {context.function_version}")
        try:
            outcome = ("response", handler(event, context))
        except Exception as error:
            traceback.print_exc()  # into the function's log, as Lambda's runtime logs an unhandled error
            outcome = ("error", f"{type(error).__name__}: {error}")
        print(f"END RequestId: {context.aws_request_id}")
        connection.send(outcome)
