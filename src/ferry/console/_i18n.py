"""The console's labels in Chinese and English, and how a request picks its language.

The language is, in order: ``?lang=zh|en`` on the URL (remembered in the ``ferry_lang``
cookie), that cookie, the browser's ``Accept-Language``, else English.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping

__all__ = [
    "LABELS",
    "LANGUAGES",
    "LANG_COOKIE",
    "STATUSES",
    "label_or",
    "pick_language",
    "say",
    "status_labels",
    "translator",
]

LANGUAGES = ("zh", "en")
LANG_COOKIE = "ferry_lang"

LABELS: dict[str, tuple[str, str]] = {
    # key: (English, 中文)
    "app": ("Ferry console", "Ferry 控制台"),
    "dashboard": ("Dashboard", "仪表盘"),
    "schemes": ("Schemes", "集成方案"),
    "scheme": ("Scheme", "方案"),
    "runs": ("Runs", "运行记录"),
    "run": ("Run", "运行"),
    "records": ("Records", "数据记录"),
    "record": ("Record", "记录"),
    "apis": ("API assets", "API 资产"),
    "alerts": ("Alerts", "告警"),
    "login": ("Log in", "登录"),
    "logout": ("Log out", "退出"),
    "username": ("User name", "用户名"),
    "password": ("Password", "密码"),
    "bad_login": ("Wrong user name or password.", "用户名或密码错误。"),
    "language": ("Language", "语言"),
    "last_24h": ("Last 24 hours", "最近 24 小时"),
    "records_in": ("Records in", "接收记录"),
    "delivered": ("Delivered", "已写入"),
    "failed": ("Failed", "失败"),
    "status": ("Status", "状态"),
    "name": ("Name", "名称"),
    "id": ("ID", "编号"),
    "number": ("Number", "单号"),
    "source": ("Source", "源平台"),
    "target": ("Target", "目标平台"),
    "filter": ("Filter", "过滤条件"),
    "flatten": ("Flatten", "拆分明细"),
    "map": ("Map", "字段映射"),
    "enabled": ("Enabled", "已启用"),
    "schema_drift": ("Schema drift", "结构漂移"),
    "drift_intro": (
        "Source fields that appeared, disappeared or changed type since the scheme's fingerprint "
        "was learnt (settings.schema_drift). Accept them with",
        "自方案学习字段指纹以来，源字段出现、消失或类型改变（settings.schema_drift）。确认请运行",
    ),
    "change": ("Change", "变化"),
    "before": ("Before", "之前"),
    "after": ("After", "之后"),
    "seen_times": ("Seen", "次数"),
    "disabled": ("Disabled", "已停用"),
    "enable": ("Enable", "启用"),
    "disable": ("Disable", "停用"),
    "run_now": ("Run now", "立即运行"),
    "last_run": ("Last run", "最近运行"),
    "never": ("never", "从未"),
    "none": ("none", "无"),
    "load_failed": ("Scheme files that fail to load", "加载失败的方案文件"),
    "flow": ("Data flow", "数据流"),
    "mapping": ("Field mapping", "字段映射表"),
    "options": ("Other request", "其他请求参数"),
    "value_maps": ("Value maps", "值映射"),
    "value_maps_hint": (
        "Read-only: a map is a file beside the scheme (maps/<name>.csv, .xlsx, .yaml) or a `maps:` entry.",
        "只读：值映射是方案旁的文件（maps/<名称>.csv、.xlsx、.yaml）或方案中的 `maps:` 条目。",
    ),
    "map_origin": ("From", "来源"),
    "map_entries": ("Entries", "条目数"),
    "map_unmatched": ("Unmatched", "未匹配时"),
    "map_version": ("Version", "版本"),
    "map_key": ("Key", "键"),
    "field": ("Field", "字段"),
    "label": ("Label", "显示名"),
    "type": ("Type", "类型"),
    "value": ("Value", "值"),
    "parser": ("Parser", "解析器"),
    "required": ("Required", "必填"),
    "preview": ("Dry-run preview", "试运行预览"),
    "preview_hint": (
        "The most recent ledger records of this scheme, mapped and packed as a run would send them; nothing is written.",
        "取本方案最近的账本记录，按运行时的方式映射与打包；不写入任何数据。",
    ),
    "no_samples": ("No records in the ledger yet: run the scheme first.", "账本中尚无记录：请先运行方案。"),
    "calls": ("Target calls", "目标调用"),
    "n_calls": ("Calls", "调用次数"),
    "validation": ("Validation", "校验"),
    "valid": ("No validation errors.", "校验通过。"),
    "path": ("Path", "路径"),
    "message": ("Message", "说明"),
    "hint": ("Hint", "提示"),
    "schedule": ("Schedule", "调度"),
    "window": ("Window", "时间窗口"),
    "kind": ("Kind", "类型"),
    "started": ("Started", "开始时间"),
    "finished_at": ("Finished", "结束时间"),
    "counts": ("Counts", "计数"),
    "error": ("Error", "错误"),
    "windows": ("Windows", "时间窗口明细"),
    "logs": ("Logs", "日志"),
    "no_logs": ("No log lines for this run.", "本次运行没有日志。"),
    "placeholders_missing": ("Placeholders that found nothing", "取不到值的占位符"),
    "placeholders_missing_hint": (
        "A typo in the scheme, or a field the source does not send: these target fields got null.",
        "方案中的拼写错误，或源端未返回该字段：这些目标字段写入了空值。",
    ),
    "level": ("Level", "级别"),
    "at": ("Time", "时间"),
    "search": ("Search", "查询"),
    "all": ("all", "全部"),
    "since": ("Updated since", "更新时间起"),
    "until": ("Updated before", "更新时间止"),
    "attempts": ("Attempts", "尝试次数"),
    "updated": ("Updated", "更新时间"),
    "content": ("Content", "原始内容"),
    "mapped": ("Mapped payload", "映射后的报文"),
    "response": ("Target response", "目标响应"),
    "last_error": ("Last error", "最近错误"),
    "error_before": ("(before the record was delivered)", "（记录随后已成功写入）"),
    "history": ("Attempt history", "重试历史"),
    "next_attempt": ("Next attempt", "下次重试"),
    "replay": ("Replay", "重新推送"),
    "replay_selected": ("Replay selected", "重推选中记录"),
    "replay_matching": ("Replay all matching", "重推全部匹配记录"),
    "replay_confirm": ("Send the matching records again?", "确定重新推送所有匹配的记录？"),
    "no_records": ("No records match.", "没有匹配的记录。"),
    "prev": ("Previous", "上一页"),
    "next": ("Next", "下一页"),
    "connection": ("Connection", "连接"),
    "api": ("API", "接口"),
    "error_rate": ("Error rate", "错误率"),
    "latency": ("Latency (ms)", "延迟 (毫秒)"),
    "no_calls": ("No API calls in this period.", "此期间没有 API 调用。"),
    "hours": ("hours", "小时"),
    "incidents": ("Incident history", "告警事件"),
    "rules": ("Rules", "告警规则"),
    "no_incidents": ("No incidents.", "暂无告警事件。"),
    "no_rules": ("No alert rules configured.", "未配置告警规则。"),
    "severity": ("Severity", "级别"),
    "subject": ("Subject", "对象"),
    "rule": ("Rule", "规则"),
    "summary": ("Summary", "摘要"),
    "opened": ("Opened", "开始"),
    "resolved": ("Resolved", "恢复"),
    "notices": ("Notices", "通知"),
    "channel": ("Channel", "渠道"),
    "ok": ("ok", "成功"),
    "run_started": ("Run started", "已开始运行"),
    "operation": ("Operation", "打包方式"),
    "condition_none": ("no condition: every record passes", "无条件：全部记录通过"),
    "flat_none": ("no beatFlat: one ledger row per record", "不拆分：每条记录一行"),
    "times_in": ("Times are Asia/Shanghai (UTC+8).", "时间为北京时间 (UTC+8)。"),
    "forbidden": (
        "Forbidden: the form's CSRF token is missing or wrong; reload the page.",
        "禁止：表单的 CSRF 令牌缺失或错误，请刷新页面。",
    ),
    "not_found": ("Not found", "未找到"),
    # -- pages at real sizes (issue 12): run summary, paging, zones, messages ----------------
    "span": ("Span", "时间范围"),
    "windows_total": ("Windows", "窗口数"),
    "windows_with_records": ("with records", "有数据"),
    "windows_empty": ("empty", "无数据"),
    "empty_windows": (
        "{count} empty windows (nothing fetched), {first} – {last}",
        "{count} 个空窗口（未获取到记录），{first} – {last}",
    ),
    "show_empty": ("Show the empty windows too", "同时显示空窗口"),
    "hide_empty": ("Hide the empty windows", "隐藏空窗口"),
    "log_problems": ("Warnings and errors only ({count})", "仅看警告和错误（{count} 条）"),
    "log_all": ("Every line", "全部日志"),
    "page_of": ("Page {page} of {pages}", "第 {page} / {pages} 页"),
    "rows_of": ("{first}–{last} of {total}", "第 {first}–{last} 条，共 {total} 条"),
    "first": ("First", "首页"),
    "last": ("Last", "末页"),
    "select_all": ("Select all", "全选"),
    "id_placeholder": ("ID, or a prefix*", "编号，或前缀*"),
    "number_placeholder": ("e.g. SO-2024*", "例如 SO-2024*"),
    "lookup_in": ("Looks up in", "查找方案"),
    "fields_n": ("{count} fields", "{count} 个字段"),
    "mapping_not_loaded": (
        "The scheme is not loaded in this console: cannot map.",
        "此方案未在本控制台加载：无法映射。",
    ),
    "no_users_cmd": ("ferry users add NAME", "ferry users add 用户名"),
    "no_users_intro": ("No console user exists yet: create one with", "尚无控制台用户：请先运行以下命令创建"),
    "not_loaded_intro": (
        "Not loaded: this scheme is known from the store only; pass its file to",
        "未加载：此方案仅存在于存储中；请将其文件传给",
    ),
    "kind.run": ("run", "运行"),
    "kind.collect": ("collect", "采集"),
    "kind.deliver": ("deliver", "推送"),
    "kind.replay": ("replay", "重推"),
    "level.info": ("info", "信息"),
    "level.warning": ("warning", "警告"),
    "level.error": ("error", "错误"),
    "notice.alert": ("alert", "告警"),
    "notice.recovery": ("recovery", "恢复"),
    "notice.test": ("test", "测试"),
    "rule.name": ("Name", "名称"),
    "rule.type": ("Type", "类型"),
    "rule.severity": ("Severity", "级别"),
    "rule.schemes": ("Schemes", "方案"),
    "rule.channels": ("Channels", "渠道"),
    "rule.description": ("Description", "说明"),
    "msg.run_started": ("run of scheme {scheme} started", "方案 {scheme} 已开始运行"),
    "msg.deliver_started": ("deliver of scheme {scheme} started", "方案 {scheme} 已开始推送"),
    "msg.not_loaded": (
        "scheme {scheme} is not loaded in this console: nothing was started",
        "方案 {scheme} 未在本控制台加载：未启动任何运行",
    ),
    "msg.already_running": (
        "scheme {scheme} is already running: nothing was started",
        "方案 {scheme} 正在运行：未重复启动",
    ),
    "msg.running_elsewhere": (
        "scheme {scheme} is running elsewhere ({holder} holds it): nothing was started",
        "方案 {scheme} 正在别处运行（由 {holder} 持有）：未启动",
    ),
    "msg.scheduler": ("the scheduler answered: {detail}", "调度器答复：{detail}"),
    "msg.enabled": ("scheme {scheme} enabled", "方案 {scheme} 已启用"),
    "msg.disabled": ("scheme {scheme} disabled", "方案 {scheme} 已停用"),
    "msg.unknown_scheme": ("unknown scheme {scheme}", "未知方案 {scheme}"),
    "msg.replayed": ("{count} records sent back to pending", "{count} 条记录已重新进入待推送"),
    "msg.replay_refused": (
        "select records or give at least one filter; a replay of everything is refused",
        "请选择记录或至少给出一个过滤条件；不允许重推全部记录",
    ),
    "msg.replay_invalid": ("nothing replayed: {problems}", "未重推：{problems}"),
    "msg.dead_letters_kept": (
        "{count} dead letters from collecting left as they are: a record without an id or that "
        "could not be read has nothing to deliver again; fix it at the source",
        "{count} 条采集时产生的死信保持不变：缺少ID或无法读取的记录没有可重推的内容，请在源端修正",
    ),
    "throttled": ("Throttled", "限流"),
    "misconfigured": ("Skipped: channel misconfigured", "已跳过：渠道未配置"),
    "rule.misconfigured": ("Misconfigured channels", "未配置的渠道"),
    "latest_notices": ("Latest notices kept / all", "保留的最近通知 / 全部"),
    # -- quarantine (issue 15): records a data-quality rule holds ---------------------------
    "quarantine": ("Quarantine", "隔离区"),
    "q_intro": (
        "Records a data-quality rule (the scheme's {block} block, a value map or schema drift) holds. "
        "Release sends one on as it is, Edit fixes its content first, Drop ends it with a reason; "
        "every action is audited under your user.",
        "被数据质量规则（方案的 {block} 配置、值映射或结构漂移）拦截的记录。"
        "放行：按原样推送；编辑：先修正内容再放行；丢弃：需填写原因。所有操作都以当前用户记入审计。",
    ),
    "q_held": ("Held", "已隔离"),
    "q_dropped": ("Dropped", "已丢弃"),
    "q_audit": ("Audit", "审计日志"),
    "q_counts": ("By scheme and rule", "按方案和规则统计"),
    "q_none": ("No records are held.", "没有被隔离的记录。"),
    "q_none_dropped": ("No records were dropped.", "没有被丢弃的记录。"),
    "q_no_audit": ("No quarantine actions yet.", "尚无隔离操作。"),
    "q_side": ("Side", "位置"),
    "q_side.source": ("source (collected row)", "源端（采集的记录）"),
    "q_side.target": ("target (mapped payload)", "目标端（映射后的报文）"),
    "q_reason": ("Reason", "原因"),
    "q_held_at": ("Held at", "隔离时间"),
    "q_actions": ("Actions", "操作"),
    "q_release": ("Release", "放行"),
    "q_release_hint": ("deliver as is", "按原样推送"),
    "q_release_selected": ("Release selected", "放行选中记录"),
    "q_drop": ("Drop", "丢弃"),
    "q_drop_selected": ("Drop selected", "丢弃选中记录"),
    "q_drop_confirm": ("Drop these records for good?", "确定永久丢弃这些记录？"),
    "q_edit": ("Edit", "编辑"),
    "q_edit_title": ("Edit and release", "编辑并放行"),
    "q_edit_hint": (
        "The record's content as JSON. Fix the value the rule names, then save: the record goes back "
        "to pending with the new content (rules judge changed content again).",
        "记录内容（JSON）。修正规则指出的值后保存：记录以新内容回到待推送（修改后的内容会重新经过规则校验）。",
    ),
    "q_save_release": ("Save and release", "保存并放行"),
    "q_release_as_is": ("Release as is", "原样放行"),
    "q_deliver_now": ("Deliver now", "立即推送"),
    "q_deliver_hint": ("(else the scheme's next run delivers it)", "（否则由方案的下次运行推送）"),
    "q_reason_optional": ("Reason (optional, kept in the audit)", "原因（可选，记入审计）"),
    "q_reason_required": ("Reason (required)", "原因（必填）"),
    "q_why": ("Why it is held", "隔离原因"),
    "q_not_held": (
        "This record is not quarantined now ({status}): nothing to release or drop.",
        "此记录当前未被隔离（{status}）：无需放行或丢弃。",
    ),
    "q_who": ("Who", "操作人"),
    "q_op": ("Operation", "操作"),
    "q_status_change": ("Status", "状态变化"),
    "q_changes": ("Changes", "修改内容"),
    "q_open": ("Open in quarantine", "在隔离区处理"),
    "q_op.release": ("release", "放行"),
    "q_op.edit": ("edit and release", "编辑并放行"),
    "q_op.drop": ("drop", "丢弃"),
    "msg.q_released": (
        "{count} records of scheme {scheme} released by {user}",
        "方案 {scheme} 的 {count} 条记录已由 {user} 放行",
    ),
    "msg.q_edited": (
        "record {record} of scheme {scheme} edited and released by {user}",
        "方案 {scheme} 的记录 {record} 已由 {user} 编辑并放行",
    ),
    "msg.q_dropped": (
        "{count} records of scheme {scheme} dropped by {user}: {reason}",
        "方案 {scheme} 的 {count} 条记录已由 {user} 丢弃：{reason}",
    ),
    "msg.q_refused": ("refused: {detail}", "操作被拒绝：{detail}"),
    "msg.q_reason_needed": (
        "a drop needs a reason: it is kept with the record and in the audit",
        "丢弃必须填写原因：原因会随记录保存并记入审计",
    ),
    # the quality report (/quality)
    "quality": ("Quality", "数据质量"),
    "quality_report": ("Quality report", "质量报告"),
    "quality_intro": (
        "Where every record went: source total = filtered out + collected; due = delivered + "
        "quarantined + failed + still pending; each quarantined record is held by one rule.",
        "每条记录的去向：源端总数 = 已过滤 + 已采集；应写入 = 已写入 + 已隔离 + 失败 + 仍待写入；"
        "每条被隔离的记录由一条规则隔离。",
    ),
    "quality_by": ("Group", "分组"),
    "quality_per_day": ("per day", "按天"),
    "quality_per_run": ("per run", "按运行"),
    "quality_day": ("Day", "日期"),
    "quality_by_day": ("Due records per day", "每天应写入记录的去向"),
    "quality_by_rule": ("Per quality rule", "按质量规则"),
    "quality_unbalanced": ("Counts do not balance", "计数不平衡"),
    "started_since": ("Started since", "开始时间起"),
    "started_before": ("Started before", "开始时间止"),
}


def translator(lang: str) -> Callable[[str], str]:
    """``t(key)``: the label of ``key`` in ``lang`` (the key itself when unknown)."""
    column = 1 if lang == "zh" else 0

    def t(key: str) -> str:
        pair = LABELS.get(key)
        return pair[column] if pair else key

    return t


def label_or(lang: str) -> Callable[[str, str], str]:
    """``lo(prefix, value)``: the label of ``prefix.value`` in ``lang``, else ``value`` as it is
    (run kinds, log levels, notice kinds: values a newer engine may add)."""
    column = 1 if lang == "zh" else 0

    def lo(prefix: str, value: str) -> str:
        pair = LABELS.get(f"{prefix}.{value}")
        return pair[column] if pair else value

    return lo


def say(key: str, lang: str, params: Mapping[str, object] | None = None) -> str:
    """The message ``key`` in ``lang`` with its ``{name}`` placeholders filled from ``params``."""
    return translator(lang)(key).format_map({name: str(value) for name, value in (params or {}).items()})


def pick_language(query: str | None, cookie: str | None, accept: str | None) -> str:
    """``zh`` or ``en`` from the URL's ``lang``, the cookie, then ``Accept-Language`` (q-weighted)."""
    for value in (query, cookie):
        if value in LANGUAGES:
            return value
    return _from_accept(accept or "")


def _from_accept(header: str) -> str:
    best, best_q = "en", -1.0
    for index, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        for param in params.split(";"):
            key, _, val = param.strip().partition("=")
            if key == "q":
                try:
                    q = float(val)
                except ValueError:
                    q = 0.0
        lang = tag.strip().lower().split("-")[0]
        if lang in LANGUAGES and q > 0 and (q > best_q or (q == best_q and index == 0)):
            best, best_q = lang, q
    return best


STATUSES: dict[str, tuple[str, str]] = {
    "pending": ("pending", "待推送"),
    "queued": ("queued", "推送中"),
    "finished": ("finished", "已完成"),
    "error": ("error", "出错"),
    "dead": ("dead", "死信"),
    "quarantined": ("quarantined", "已隔离"),
    "dropped": ("dropped", "已丢弃"),
    "running": ("running", "运行中"),
    "succeeded": ("succeeded", "成功"),
    "partial": ("partial", "部分失败"),
    "failed": ("failed", "失败"),
    "open": ("open", "未恢复"),
    "firing": ("firing", "告警中"),
    "resolved": ("resolved", "已恢复"),
    "warning": ("warning", "警告"),
    "critical": ("critical", "严重"),
    "closed": ("closed", "已关闭"),
}


def status_labels(lang: str) -> Mapping[str, str]:
    """Record, run and incident statuses in ``lang`` (for badges); unknown ones show as they are."""
    column = 1 if lang == "zh" else 0
    return {key: pair[column] for key, pair in STATUSES.items()}
