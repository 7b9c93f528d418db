import Glibc

// API of the state-file codec and its file I/O (SPEC §4.7–4.9, R45).
// The bodies are being written; the signatures are the contract the rest of the code uses.

/// A file that is not a valid state file (R36). The description is the user-facing message:
/// `Invalid qq info file '/users/jdoe/sim/run.qqinfo' (line 7): expected an integer for 'job_exit_code'.`
/// or `Invalid qq info file '/users/jdoe/sim/run.qqinfo': missing required field 'job_id'.`
public struct InfoFileError: Error, Sendable, Hashable, CustomStringConvertible {
    public var path: String
    public var line: Int?
    /// What was expected, e.g. `expected an integer for 'job_exit_code'`.
    public var message: String
    public init(path: String, line: Int?, message: String) { self.path = path; self.line = line; self.message = message }
    public var description: String {
        if let line { return "Invalid qq info file '\(path)' (line \(line)): \(message)." }
        return "Invalid qq info file '\(path)': \(message)."
    }
}

/// Why loading a state file failed: it could not be read, or it is not valid.
public enum InfoFileLoadError: Error, Sendable, Hashable, CustomStringConvertible {
    case unreadable(SystemError)
    case invalid(InfoFileError)
    public var description: String {
        switch self {
        case .unreadable(let e): return e.description
        case .invalid(let e): return e.description
        }
    }
    /// True when the file does not exist.
    public var isMissing: Bool { if case .unreadable(let e) = self { return e.code == ENOENT }; return false }
}

public enum InfoFileCodec {
    /// Parses the text of a state file (R34–R36). `path` is only used in error messages.
    public static func decode(_ text: String, path: String) throws(InfoFileError) -> InfoRecord {
        fatalError("InfoFileCodec.decode not written yet")
    }

    /// Serialises a record in qq's field order with every string quoted (R29–R33),
    /// ending in `\n\n`.
    public static func encode(_ record: InfoRecord) -> String {
        fatalError("InfoFileCodec.encode not written yet")
    }

    public static func decodeMarker(_ text: String, path: String) throws(InfoFileError) -> WorkDirMarker {
        fatalError("InfoFileCodec.decodeMarker not written yet")
    }

    public static func encodeMarker(_ marker: WorkDirMarker) -> String {
        fatalError("InfoFileCodec.encodeMarker not written yet")
    }
}

/// File-level operations on state files and markers.
public enum InfoFile {
    /// Reads and decodes `path`. A file that fails to parse is re-read up to `tornReadRetries`
    /// times, `retryDelay` seconds apart (R37: 3 × 200 ms), before it is reported invalid.
    public static func load(path: String, tornReadRetries: Int = 3, retryDelay: Double = 0.2)
        throws(InfoFileLoadError) -> InfoRecord {
        fatalError("InfoFile.load not written yet")
    }

    /// Writes `text` to `path` atomically (R38): temp file `.<name>.tmp-<pid>-<random>` in the same
    /// directory, fsync, permission bits of the file it replaces (or `modeIfNew` & ~umask when there
    /// is none), rename, fsync of the directory; the temp file is removed on any failure.
    public static func writeAtomically(_ text: String, to path: String, modeIfNew: mode_t = 0o666)
        throws(SystemError) {
        fatalError("InfoFile.writeAtomically not written yet")
    }

    /// Creates `path` only if the name is free (R40: temp file + `link()`); returns false when the
    /// name is taken (EEXIST), throws on other errors.
    public static func claim(_ text: String, at path: String) throws(SystemError) -> Bool {
        fatalError("InfoFile.claim not written yet")
    }

    /// Replaces a dead job's file (R40): rename the old file to `.<name>.replaced-<pid>`, claim the
    /// name with `link()`, delete the renamed file. Returns false if another process won a race.
    public static func replaceDead(_ text: String, at path: String) throws(SystemError) -> Bool {
        fatalError("InfoFile.replaceDead not written yet")
    }

    /// Reads a work-dir marker with `O_NOFOLLOW` (R45, R134).
    public static func loadMarker(path: String) throws(InfoFileLoadError) -> WorkDirMarker {
        fatalError("InfoFile.loadMarker not written yet")
    }
}
