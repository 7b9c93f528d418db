extension InfoPanel {
    /// Issue 14: how qq-run set up the job's environment (only what was asked for).
    static func environmentRows(_ r: InfoRecord) -> [PanelRow] {
        var rows: [PanelRow] = []
        func exitText(_ code: Int?) -> String { code.map { " (exit code \($0))" } ?? (r.phase == .done ? " (not run)" : "") }
        if let s = r.envScript { rows.append(PanelRow(key: "Env script:", value: s, style: .value)) }
        if !r.envVariables.isEmpty {
            rows.append(PanelRow(key: "Variables:", value: r.envVariables.joined(separator: " "), style: .value))
        }
        if let image = r.container {
            let binds = r.containerMounts.isEmpty ? "" : " (mounts \(r.containerMounts.joined(separator: ",")))"
            rows.append(PanelRow(key: "Container:", value: image + binds, style: .value))
        }
        // A bare interpreter name is qq's own field (Python qq jobs have it); it shows with the rest,
        // or when it carries arguments.
        if let i = r.interpreter, !rows.isEmpty || r.prologue != nil || r.epilogue != nil || i.contains(" ") {
            rows.append(PanelRow(key: "Interpreter:", value: i, style: .value))
        }
        if let p = r.prologue { rows.append(PanelRow(key: "Prologue:", value: p + exitText(r.prologueExitCode), style: .value)) }
        if let e = r.epilogue { rows.append(PanelRow(key: "Epilogue:", value: e + exitText(r.epilogueExitCode), style: .value)) }
        return rows
    }
}
