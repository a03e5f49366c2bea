import io
import json

import structlog

from config.settings import LogSettings
from hotline.log import configure_logging


def test_json_lines_carry_bound_ids_and_chinese_text() -> None:
    out = io.StringIO()
    configure_logging(LogSettings(format="json", level="info"), stream=out)
    structlog.contextvars.bind_contextvars(call_id="1700000000.42")
    try:
        structlog.get_logger().bind(order_id="WO-1").info("screen pop", caller_name="张伟")
        structlog.get_logger().debug("not shown at info")
    finally:
        structlog.contextvars.clear_contextvars()
    lines = out.getvalue().splitlines()
    assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["call_id"] == "1700000000.42"
    assert record["order_id"] == "WO-1"
    assert record["caller_name"] == "张伟"
    assert "张伟" in lines[0]  # not \u-escaped: readable in a terminal and in grep
    assert record["level"] == "info"


def test_console_format_is_readable() -> None:
    out = io.StringIO()
    configure_logging(LogSettings(format="console", level="debug"), stream=out)
    structlog.get_logger().info("hello", extension="1001")
    text = out.getvalue()
    assert "hello" in text
    assert "extension" in text
    assert not text.lstrip().startswith("{")
