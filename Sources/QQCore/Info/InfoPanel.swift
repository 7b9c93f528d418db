/// The full `qq-info` panel (R126, R127), the short line (R129) and their colors (R131).
/// Pure functions of the record, the evaluated status, "now" and the geometry, so tests can render
/// reference panels deterministically.

/// ANSI SGR styles of R131.
package enum PanelColor {
    static func sgr(_ state: RealState) -> String {
        switch state {
        case .queued, .held, .waiting: return "95"
        case .suspended: return "90"
        case .running: return "94"
        case .booting: return "96"
        case .killed, .failed, .lost: return "91"
        case .finished: return "92"
        case .exiting: return "93"
        case .inconsistent, .unknown: return "38;5;249"
        }
    }
    static let key = "1"
    static let value = "37"
    static let note = "38;5;244"
    static let border = "37"
    static let title = "1;37"
}

package struct PanelOptions: Sendable, Hashable {
    /// The terminal width C of R126; the panel is max(⌊C/3⌋, 80) wide.
    package var terminalColumns: Int
    package var colors: Bool
    /// Epoch seconds used for every "… for <D>" duration.
    package var now: Int
    package var clockSkew: Double

    package init(terminalColumns: Int = 80, colors: Bool = false, now: Int, clockSkew: Double = 60) {
        self.terminalColumns = terminalColumns; self.colors = colors; self.now = now; self.clockSkew = clockSkew
    }

    package var panelWidth: Int { max(terminalColumns / 3, 80) }
}

/// One key/value row; an empty key makes a note (detail) row.
struct PanelRow {
    enum Style { case value, note, state(RealState) }
    var key: String
    var value: String
    var style: Style
    static func note(_ text: String) -> PanelRow { PanelRow(key: "", value: text, style: .note) }
}

package enum InfoPanel {
    static let leftPad = 3
    static let rightPad = 3

    /// `loop`: the loop's cycles found on disk, shown as the LOOP section when it tells more than
    /// this panel (`LoopHistory.isWorthShowing`).
    static func render(record: InfoRecord, status: JobStatus, options: PanelOptions,
                       loop: LoopHistory?) -> String {
        let width = options.panelWidth
        let inner = width - 2
        let c = options.colors
        var lines: [String] = []
        lines.append(topBorder(title: " JOB: \(record.jobID) ", inner: inner, colors: c))
        lines.append(emptyLine(inner, c))
        lines += table(basicRows(record), inner: inner, colors: c)

        // Each section: a blank line, the titled rule, a blank line, its rows (R126).
        func section(_ title: String, _ body: [String]) {
            lines.append(emptyLine(inner, c))
            lines.append(rule(title: " \(title) ", inner: inner, colors: c))
            lines.append(emptyLine(inner, c))
            lines += body
        }
        section("RESOURCES", resourceLines(record.resources, inner: inner, colors: c))
        section("HISTORY", table(historyRows(record, status), inner: inner, colors: c))
        let environment = environmentRows(record)  // issue 14
        if !environment.isEmpty { section("ENVIRONMENT", table(environment, inner: inner, colors: c)) }
        let staging = stagingRows(record, now: options.now)
        if !staging.isEmpty { section("STAGING", table(staging, inner: inner, colors: c)) }
        let usage = usageRows(record, now: options.now)
        if !usage.isEmpty { section("USAGE", table(usage, inner: inner, colors: c)) }
        if let loop, loop.isWorthShowing { section("LOOP", loopLines(loop, inner: inner, colors: c, now: options.now)) }
        section("STATE", table(stateRows(record, status, options: options), inner: inner, colors: c))
        lines.append(emptyLine(inner, c))
        lines.append(bottomBorder(inner: inner, colors: c))
        return lines.joined(separator: "\n") + "\n"
    }

    package static func render(record: InfoRecord, status: JobStatus, options: PanelOptions) -> String {
        render(record: record, status: status, options: options, loop: nil)
    }

    /// R129: `<job id>    <state>`.
    package static func shortLine(record: InfoRecord, status: JobStatus, colors: Bool) -> String {
        let state = status.realState.text
        return "\(record.jobID)    \(colors ? paint(state, PanelColor.sgr(status.realState)) : state)"
    }

    /// `--short` for a loop with its history: R129's line of one cycle, then its cycle
    /// (`2345677    finished    cycle 2/10`), so that the lines of a loop can be told apart.
    static func loopShortLine(_ c: CycleRecord, colors: Bool) -> String {
        let state = c.state.map { colors ? paint($0.text, PanelColor.sgr($0)) : $0.text } ?? "unreadable"
        let end = c.record?.loopInfo.map { "/\($0.end)" } ?? ""
        return "\(c.record?.jobID ?? "?")    \(state)    cycle \(c.cycle.map(String.init) ?? "?")\(end)"
    }

    // MARK: Sections

    static func basicRows(_ r: InfoRecord) -> [PanelRow] {
        var rows: [PanelRow] = [PanelRow(key: "Job name:", value: r.jobName, style: .value)]
        var type = r.jobType.text
        if r.jobType == .loop, let loop = r.loopInfo {
            type = "loop [\(loop.current.map(String.init) ?? "?")/\(loop.end)]"
        }
        rows.append(PanelRow(key: "Job type:", value: type, style: .value))
        rows.append(PanelRow(key: "Submission queue:", value: r.queue, style: .value))
        rows.append(PanelRow(key: "Input machine:", value: r.inputMachine, style: .value))
        rows.append(PanelRow(key: "Input directory:", value: r.inputDir, style: .value))
        if r.allNodes.count > 1 {
            rows.append(PanelRow(key: "Working nodes:", value: r.allNodes.joined(separator: " + "), style: .value))
        } else if let main = r.mainNode, r.allNodes.count == 1 {
            rows.append(PanelRow(key: "Working node:", value: main, style: .value))
        }
        if let wd = r.workDir {
            rows.append(PanelRow(key: "Working directory:", value: wd, style: .value))
        }
        return rows
    }

    /// R127 item 2: every set resource in R21 order, then props.
    static func resourceItems(_ res: Resources) -> [(String, String)] {
        var items: [(String, String)] = []
        func add(_ key: String, _ value: String?) { if let value { items.append((key, value)) } }
        add("nnodes", res.nnodes.map(String.init))
        add("ncpus", res.ncpus.map(String.init))
        add("ncpus-per-node", res.ncpusPerNode.map(String.init))
        add("mem", res.mem?.humanReadable)
        add("mem-per-node", res.memPerNode?.humanReadable)
        add("mem-per-cpu", res.memPerCPU?.humanReadable)
        add("ngpus", res.ngpus.map(String.init))
        add("ngpus-per-node", res.ngpusPerNode.map(String.init))
        add("walltime", res.walltime)
        add("work-dir", res.workDir)
        add("work-size", res.workSize?.humanReadable)
        add("work-size-per-node", res.workSizePerNode?.humanReadable)
        add("work-size-per-cpu", res.workSizePerCPU?.humanReadable)
        for p in res.props { items.append((p.key, p.value)) }
        return items
    }

    /// Two items per row as qq draws them; one per row when two do not fit.
    static func resourceLines(_ res: Resources, inner: Int, colors: Bool) -> [String] {
        let items = resourceItems(res).map { ($0.0 + ":", $0.1) }
        if items.isEmpty { return [] }
        let left = stride(from: 0, to: items.count, by: 2).map { items[$0] }
        let right = stride(from: 1, to: items.count, by: 2).map { items[$0] }
        let lkw = left.map { $0.0.count }.max() ?? 0
        let lvw = left.map { $0.1.count }.max() ?? 0
        let rkw = right.map { $0.0.count }.max() ?? 0
        let rvw = right.map { $0.1.count }.max() ?? 0
        let gap = 4
        let needed = leftPad + lkw + 2 + lvw + (right.isEmpty ? 0 : gap + rkw + 2 + rvw) + rightPad
        if needed > inner {
            return table(items.map { PanelRow(key: $0.0, value: $0.1, style: .value) }, inner: inner, colors: colors)
        }
        var lines: [String] = []
        for (i, l) in left.enumerated() {
            var text = spaces(leftPad) + styled(padLeft(l.0, lkw), PanelColor.key, colors) + "  "
            var visible = leftPad + lkw + 2
            if i < right.count {
                let r = right[i]
                text += styled(padRight(l.1, lvw), PanelColor.value, colors) + spaces(gap)
                text += styled(padLeft(r.0, rkw), PanelColor.key, colors) + "  " + styled(r.1, PanelColor.value, colors)
                visible += lvw + gap + rkw + 2 + r.1.count
            } else {
                text += styled(l.1, PanelColor.value, colors)
                visible += l.1.count
            }
            lines.append(framed(text, visible: visible, inner: inner, colors: colors))
        }
        return lines
    }

    /// R127 item 3 label: from the real state (and the exit code for exiting jobs).
    static func completionLabel(_ r: InfoRecord, _ state: RealState) -> String {
        switch state {
        case .finished: return "Finished"
        case .killed: return "Killed"
        case .failed: return "Failed"
        case .exiting:
            guard let code = r.jobExitCode else { return "Killed" }
            return code == 0 ? "Finished" : "Failed"
        default: return "Completed"
        }
    }

    static func historyRows(_ r: InfoRecord, _ status: JobStatus) -> [PanelRow] {
        var rows = [PanelRow(key: "Submitted at:", value: r.submissionTime.description, style: .value)]
        let label = completionLabel(r, status.realState) + " at:"
        if let start = r.startTime {
            rows.append(.note("was queued for \(duration(from: r.submissionTime, to: start))"))
            rows.append(PanelRow(key: "Started at:", value: start.description, style: .value))
            if let end = r.completionTime {
                rows.append(.note("was running for \(duration(from: start, to: end))"))
                rows.append(PanelRow(key: label, value: end.description, style: .value))
            }
        } else if let end = r.completionTime {
            rows.append(.note("was queued for \(duration(from: r.submissionTime, to: end))"))
            rows.append(PanelRow(key: label, value: end.description, style: .value))
        }
        return rows
    }

    static func stagingRows(_ r: InfoRecord, now: Int = Int(Timestamp.now().epochSeconds)) -> [PanelRow] {
        var rows: [PanelRow] = []
        if let s = r.stageIn {
            rows.append(PanelRow(key: "Stage in:", value: transferText(s.files, s.bytes, s.seconds), style: .value))
        }
        if let s = r.stageOut {
            var text = transferText(s.files, s.bytes, s.seconds)
            switch s.mode {
            case .transfer: break
            case .logsOnly: text += " (logs only)"
            case .rescue: text += " (rescue)"
            }
            if s.errors != 0 { text += ", \(s.errors) errors" }
            if s.notCopied != 0 { text += ", \(s.notCopied) not copied" }
            rows.append(PanelRow(key: "Stage out:", value: text, style: .value))
            if s.kept != 0 {  // R99 as changed by issue 8: input-dir versions renamed aside
                let files = s.kept == 1 ? "1 input-dir file" : "\(s.kept) input-dir files"
                rows.append(PanelRow(key: "Kept:", value: "\(files) as *.qq-kept-\(r.jobID)", style: .value))
            }
        }
        if let p = r.progress {  // issue 12 item 5: a copy under way
            rows.append(PanelRow(key: StagingProgress.phaseLabel(p.phase) + ":", value: StagingProgress.counts(p), style: .value))
        }
        if let s = r.sync {  // issue 12: results brought home while the job ran
            let age = max(0, now - s.last.epochSeconds)
            var text = "Last synced \(formatDuration(seconds: age)) ago (\(s.files) files, \(Size.format(bytes: s.bytes)))"
            if s.skipped != 0 { text += ", \(s.skipped) left for later" }
            rows.append(PanelRow(key: "Synced:", value: text, style: .value))
        }
        if let wiped = r.wiped {
            rows.append(PanelRow(key: "Work dir:", value: "wiped at \(wiped)", style: .value))
        } else if let sync = r.synchronized {
            rows.append(PanelRow(key: "Work dir:", value: sync ? "removed" : "kept", style: .value))
        }
        return rows
    }

    static func transferText(_ files: Int, _ bytes: Int64, _ seconds: Double) -> String {
        "\(files) files, \(Size.format(bytes: bytes)) in \(fixed(seconds, decimals: 1)) s"
    }

    /// R91's CPU count: `ncpus`, else `ncpus_per_node` × `nnodes`, else 1.
    static func cpuCount(_ res: Resources) -> Int {
        if let n = res.ncpus { return n }
        if let per = res.ncpusPerNode { return per * (res.nnodes ?? 1) }
        return 1
    }

    static func usageRows(_ r: InfoRecord, now: Int) -> [PanelRow] {
        guard let u = r.usage else { return [] }
        var rows = [
            PanelRow(key: "Max RSS (largest process):", value: Size.format(kilobytes: u.maxRSS), style: .value),
            PanelRow(key: "User CPU:", value: formatDuration(seconds: Int(u.userCPU.rounded())), style: .value),
            PanelRow(key: "System CPU:", value: formatDuration(seconds: Int(u.sysCPU.rounded())), style: .value),
        ]
        if let start = r.startTime {
            let end = r.completionTime?.epochSeconds ?? now
            let elapsed = end - start.epochSeconds
            let ncpus = cpuCount(r.resources)
            if elapsed > 0, ncpus > 0 {
                let percent = (u.userCPU + u.sysCPU) / (Double(ncpus) * Double(elapsed)) * 100
                rows.append(PanelRow(key: "CPU efficiency:", value: fixed(percent, decimals: 1) + "%", style: .value))
            }
        }
        return rows
    }

    /// The LOOP section (issue 11 item 4): the archive, then one row per cycle with its state, job
    /// id, start and run time, then a note per file that could not be read.
    static func loopLines(_ loop: LoopHistory, inner: Int, colors: Bool, now: Int) -> [String] {
        let n = loop.archivedCount
        var lines = table([PanelRow(key: "Archive:", value: "\(loop.archive) (\(n) archived \(n == 1 ? "cycle" : "cycles"))",
                                    style: .value)], inner: inner, colors: colors)
        lines.append(emptyLine(inner, colors))
        let header = ["Cycle", "State", "Job id", "Started at", "Run time"]
        func cells(_ c: CycleRecord, shortIDs: Bool) -> [String] {
            let id = c.record.map { shortIDs ? String(shortJobID($0.jobID)) : $0.jobID } ?? "-"
            return [c.cycle.map(String.init) ?? "?", c.state?.text ?? "unreadable", id,
                    c.record?.startTime?.description ?? "-", c.runSeconds(now: now).map(formatDuration(seconds:)) ?? "-"]
        }
        // Narrower layouts when the row does not fit: without the start, then with short job ids.
        let gap = 2
        var columns = Array(header.indices)
        var rows = loop.cycles.map { cells($0, shortIDs: false) }
        var widths: [Int] = []
        for layout in 0..<3 {
            if layout == 1 { columns.removeAll { $0 == 3 } }
            if layout == 2 { rows = loop.cycles.map { cells($0, shortIDs: true) } }
            widths = header.indices.map { i in ([header[i]] + rows.map { $0[i] }).map(\.count).max() ?? 0 }
            if columns.map({ widths[$0] }).reduce(0, +) + gap * (columns.count - 1) <= inner - leftPad - rightPad { break }
        }
        func line(_ row: [String], _ style: (Int) -> String) -> String {
            var text = spaces(leftPad)
            var visible = leftPad
            for (k, i) in columns.enumerated() {
                let cell = row[i]
                let pad = spaces(widths[i] - cell.count)
                let last = k == columns.count - 1
                // The cycle number is right-aligned, the rest left-aligned.
                text += i == 0 ? pad + styled(cell, style(i), colors) : styled(cell, style(i), colors) + (last ? "" : pad)
                visible += last && i != 0 ? cell.count : widths[i]
                if !last { text += spaces(gap); visible += gap }
            }
            return framed(text, visible: visible, inner: inner, colors: colors)
        }
        lines.append(line(header) { _ in PanelColor.key })
        for (c, row) in zip(loop.cycles, rows) {
            lines.append(line(row) { i in i == 1 ? (c.state.map(PanelColor.sgr) ?? PanelColor.note) : PanelColor.value })
        }
        var notes: [PanelRow] = loop.cycles.compactMap { c in
            c.error.map { .note("\(FileSystem.baseName(c.path)): \($0)") }
        }
        if let error = loop.archiveError { notes.append(.note("Could not read the archive: \(error)")) }
        if !notes.isEmpty { lines += table(notes, inner: inner, colors: colors) }
        return lines
    }

    static let stateMessages: [RealState: String] = [
        .queued: "Job is queued", .held: "Job is held", .waiting: "Job is waiting",
        .suspended: "Job is suspended", .running: "Job is running", .booting: "Job is booting",
        .killed: "Job has been killed", .failed: "Job has failed", .finished: "Job has finished",
        .exiting: "Job is exiting", .inconsistent: "Job is in an inconsistent state",
        .unknown: "Job is in an unknown state", .lost: "Job has been lost",
    ]

    static let batchFailureTexts: [String: String] = [
        "TIMEOUT": "time limit reached", "OUT_OF_MEMORY": "out of memory", "NODE_FAIL": "node failure",
        "PREEMPTED": "preempted", "DEADLINE": "deadline reached",
    ]

    static func stateRows(_ r: InfoRecord, _ status: JobStatus, options: PanelOptions) -> [PanelRow] {
        let state = status.realState
        let now = options.now
        var rows = [PanelRow(key: "Job state:", value: stateMessages[state] ?? "", style: .state(state))]
        let batch = status.answer?.record
        switch state {
        case .queued, .held, .waiting:
            let from = r.startTime ?? r.submissionTime
            let to = r.completionTime?.epochSeconds ?? now
            rows.append(.note("In queue for \(formatDuration(seconds: to - from.epochSeconds))"))
        case .suspended:
            break
        case .running:
            let from = (r.startTime ?? r.submissionTime).epochSeconds
            var text = "Running for \(formatDuration(seconds: now - from)) on "
            if let main = r.mainNode ?? r.allNodes.first {
                text += "'\(main)'"
                let others = max(0, r.allNodes.count - 1)
                if others > 0 { text += " and \(others) other \(others == 1 ? "node" : "nodes")" }
            } else {
                text += "unknown node(s)"
            }
            rows.append(.note(text))
            if r.phase == .stageOut { rows.append(.note("Transferring results to the input directory")) }
            if let age = status.heartbeatAge {
                if HeartbeatFreshness(record: r, clockSkew: options.clockSkew).isSilent(age: age) {
                    rows.append(.note("No heartbeat for \(formatDuration(seconds: age))"))
                } else {
                    rows.append(.note("Last heartbeat \(formatDuration(seconds: age)) ago"))
                }
            }
        case .booting:
            if let node = batch?.mainNode { rows.append(.note("Preparing working directory on '\(node)'")) }
            else { rows.append(.note("Preparing working directory")) }
        case .killed:
            var text = r.completionTime.map { "Killed at \($0)" } ?? "Killed"
            if let reason = r.killReason { text += " [reason: \(reason.rawValue)]" }
            rows.append(.note(text))
        case .failed:
            var text = r.completionTime.map { "Failed at \($0)" } ?? "Failed"
            if let code = r.jobExitCode { text += " [exit code: \(code)]" }
            rows.append(.note(text))
            if let error = r.error, !error.isEmpty { rows.append(.note(error)) }
        case .finished:
            rows.append(.note(r.completionTime.map { "Completed at \($0)" } ?? "Completed"))
        case .exiting:
            if let code = r.jobExitCode {
                rows.append(.note(code == 0 ? "Job is finishing successfully" : "Job is failing [exit code: \(code)]"))
            } else {
                rows.append(.note("Job is being killed"))
            }
        case .inconsistent:
            rows.append(.note("The batch system and qq disagree on the status of the job"))
        case .unknown:
            rows.append(.note("Job is in a state that qq does not recognize"))
        case .lost:
            let since = r.heartbeat?.description ?? "an unknown time"
            rows.append(.note("No sign of life from qq-run since \(since); the batch job is no longer active"))
        }

        if [.queued, .held, .waiting, .suspended].contains(state), let batch {
            if let estimate = batch.estimate {
                let within = formatDuration(seconds: max(0, estimate.time.epochSeconds - now))
                rows.append(.note("Planned start within \(within) on '\(estimate.nodes)'"))
            } else if let reason = batch.reason {
                rows.append(.note("Reason: \(reason)"))
            } else if let comment = batch.comment, !comment.isEmpty {
                rows.append(.note(comment))
            }
        }
        if r.batchSystem.isSlurmFamily, let batch, let text = batchFailureTexts[batch.rawState] {
            rows.append(.note("Batch system: \(text) (\(batch.rawState))"))
        }
        if let note = status.batchNote { rows.append(.note(note)) }
        return rows
    }

    // MARK: Layout

    /// A key/value table: keys right-aligned to this table's widest key, two spaces, the value
    /// wrapped into the value column (R126).
    static func table(_ rows: [PanelRow], inner: Int, colors: Bool) -> [String] {
        let kw = rows.map { $0.key.count }.max() ?? 0
        let vw = max(10, inner - leftPad - kw - 2 - rightPad)
        var lines: [String] = []
        for row in rows {
            let wrapped = wrap(row.value, width: vw)
            for (i, part) in wrapped.enumerated() {
                let key = i == 0 ? row.key : ""
                var text = spaces(leftPad) + styled(padLeft(key, kw), PanelColor.key, colors) + "  "
                switch row.style {
                case .value: text += styled(part, PanelColor.value, colors)
                case .note: text += styled(part, PanelColor.note, colors)
                case .state(let s): text += styled(part, "1;" + PanelColor.sgr(s), colors)
                }
                lines.append(framed(text, visible: leftPad + kw + 2 + part.count, inner: inner, colors: colors))
            }
        }
        return lines
    }

    /// Breaks `text` into lines of at most `width` characters at spaces; a longer word is cut.
    package static func wrap(_ text: String, width: Int) -> [String] {
        guard width > 0 else { return [text] }
        var lines: [String] = []
        for paragraph in text.split(separator: "\n", omittingEmptySubsequences: false) {
            var current = ""
            for word in paragraph.split(separator: " ") {
                if !current.isEmpty {
                    if current.count + 1 + word.count <= width { current += " " + word; continue }
                    lines.append(current)
                    current = ""
                }
                var rest = Substring(word)
                while rest.count > width {
                    lines.append(String(rest.prefix(width)))
                    rest = rest.dropFirst(width)
                }
                current = String(rest)
            }
            lines.append(current)
        }
        return lines
    }

    static func framed(_ text: String, visible: Int, inner: Int, colors: Bool) -> String {
        let side = styled("│", PanelColor.border, colors)
        return side + text + spaces(max(0, inner - visible)) + side
    }

    static func emptyLine(_ inner: Int, _ colors: Bool) -> String {
        framed("", visible: 0, inner: inner, colors: colors)
    }

    static func centered(_ title: String, inner: Int) -> (Int, Int) {
        let free = max(0, inner - title.count)
        return (free / 2, free - free / 2)
    }

    static func topBorder(title: String, inner: Int, colors: Bool) -> String {
        let (l, r) = centered(title, inner: inner)
        return styled("╭" + dashes(l), PanelColor.border, colors) + styled(title, PanelColor.title, colors)
            + styled(dashes(r) + "╮", PanelColor.border, colors)
    }

    static func rule(title: String, inner: Int, colors: Bool) -> String {
        let (l, r) = centered(title, inner: inner)
        return styled("│" + dashes(l), PanelColor.border, colors) + styled(title, PanelColor.title, colors)
            + styled(dashes(r) + "│", PanelColor.border, colors)
    }

    static func bottomBorder(inner: Int, colors: Bool) -> String {
        styled("╰" + dashes(inner) + "╯", PanelColor.border, colors)
    }

    static func dashes(_ n: Int) -> String { String(repeating: "─", count: max(0, n)) }
    static func spaces(_ n: Int) -> String { String(repeating: " ", count: max(0, n)) }
    static func padLeft(_ s: String, _ w: Int) -> String { spaces(w - s.count) + s }
    static func padRight(_ s: String, _ w: Int) -> String { s + spaces(w - s.count) }

    static func styled(_ text: String, _ sgr: String, _ colors: Bool) -> String {
        colors && !text.isEmpty ? paint(text, sgr) : text
    }

    static func paint(_ text: String, _ sgr: String) -> String { "\u{1B}[\(sgr)m\(text)\u{1B}[0m" }

    static func duration(from a: Timestamp, to b: Timestamp) -> String {
        formatDuration(seconds: b.epochSeconds - a.epochSeconds)
    }
}

/// `x` with `decimals` digits after the point, rounded half away from zero; negatives as 0.
func fixed(_ x: Double, decimals: Int) -> String {
    guard x.isFinite, x > 0 else { return decimals > 0 ? "0." + String(repeating: "0", count: decimals) : "0" }
    var scale = 1.0
    for _ in 0..<decimals { scale *= 10 }
    let scaled = Int64((x * scale).rounded())
    let factor = Int64(scale)
    let whole = scaled / factor
    guard decimals > 0 else { return String(whole) }
    return "\(whole)." + zeroPadded(Int(scaled % factor), width: decimals)
}

extension InfoPanel {
    /// R128: qq-wipe's status panel: the same borders and title, max(⌊C/3⌋, 70) wide, one empty
    /// line of padding above and below, and only the STATE table. Preceded and followed by an
    /// empty line.
    package static func statusPanel(record: InfoRecord, status: JobStatus, options: PanelOptions) -> String {
        let inner = max(options.terminalColumns / 3, 70) - 2
        let c = options.colors
        var lines = ["", topBorder(title: " JOB: \(record.jobID) ", inner: inner, colors: c), emptyLine(inner, c)]
        lines += table(stateRows(record, status, options: options), inner: inner, colors: c)
        lines += [emptyLine(inner, c), bottomBorder(inner: inner, colors: c), ""]
        return lines.joined(separator: "\n") + "\n"
    }
}
