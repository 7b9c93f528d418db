import Glibc

// API of the state-file codec and its file I/O (SPEC §4.7–4.9, R45).
// The bodies are being written; the signatures are the contract the rest of the code uses.

/// A file that is not a valid state file (R36). The description is the user-facing message:
/// `Invalid qq info file '/users/jdoe/sim/run.qqinfo' (line 7): expected an integer for 'job_exit_code'.`
/// or `Invalid qq info file '/users/jdoe/sim/run.qqinfo': missing required field 'job_id'.`
package struct InfoFileError: Error, Sendable, Hashable, CustomStringConvertible {
    package var path: String
    package var line: Int?
    /// What was expected, e.g. `expected an integer for 'job_exit_code'`.
    package var message: String
    package init(path: String, line: Int?, message: String) { self.path = path; self.line = line; self.message = message }
    package var description: String {
        if let line { return "Invalid qq info file '\(path)' (line \(line)): \(message)." }
        return "Invalid qq info file '\(path)': \(message)."
    }
}

/// Why loading a state file failed: it could not be read, or it is not valid.
package enum InfoFileLoadError: Error, Sendable, Hashable, CustomStringConvertible {
    case unreadable(SystemError)
    case invalid(InfoFileError)
    package var description: String {
        switch self {
        case .unreadable(let e): return e.description
        case .invalid(let e): return e.description
        }
    }
}

package enum InfoFileCodec {
    /// Parses the text of a state file (R34–R36). `path` is only used in error messages.
    package static func decode(_ text: String, path: String) throws(InfoFileError) -> InfoRecord {
        try decodeInfo(bytes: Array(text.utf8), path: path)
    }

    /// Serialises a record in qq's field order with every string quoted (R29–R33),
    /// ending in `\n\n`.
    package static func encode(_ record: InfoRecord) -> String {
        encodeInfo(record)
    }

    package static func decodeMarker(_ text: String, path: String) throws(InfoFileError) -> WorkDirMarker {
        try decodeMarker(bytes: Array(text.utf8), path: path)
    }

    package static func encodeMarker(_ marker: WorkDirMarker) -> String {
        encodeMarkerText(marker)
    }
}

/// File-level operations on state files and markers.
package enum InfoFile {
    /// Reads and decodes `path`. A file that fails to parse is re-read up to `tornReadRetries`
    /// times, `retryDelay` seconds apart (R37: 3 × 200 ms), before it is reported invalid.
    package static func load(path: String, tornReadRetries: Int = 3, retryDelay: Double = 0.2)
        throws(InfoFileLoadError) -> InfoRecord {
        var attempt = 0
        var previous: [UInt8]? = nil
        while true {
            let bytes: [UInt8]
            do { bytes = try FileSystem.readBytes(path, regularOnly: true) } catch { throw .unreadable(error) }
            do {
                let record = try InfoFileCodec.decodeInfo(bytes: bytes, path: path)
                // A file cut short by a truncate-then-write writer may still parse. qq's files end
                // in a newline, so one that does not is read again to see whether it is still changing.
                if bytes.last == 10 || attempt >= tornReadRetries || previous == bytes { return record }
            } catch {
                if attempt >= tornReadRetries { throw .invalid(error) }
            }
            previous = bytes
            attempt += 1
            sleepUninterrupted(seconds: retryDelay)
        }
    }

    /// Writes `text` to `path` atomically (R38): temp file `.<name>.tmp-<pid>-<random>` in the same
    /// directory, fsync, permission bits of the file it replaces (or `modeIfNew` & ~umask when there
    /// is none), rename, fsync of the directory; the temp file is removed on any failure.
    package static func writeAtomically(_ text: String, to path: String, modeIfNew: mode_t = 0o666)
        throws(SystemError) {
        var st = stat()
        let mode = stat(path, &st) == 0 ? st.st_mode & 0o777 : modeIfNew & ~FileSystem.umask & 0o777
        let tmp = try InfoFileIO.createTemp(Array(text.utf8), for: path, mode: mode)
        guard rename(tmp, path) == 0 else {
            let e = SystemError.fromErrno("replace", path)
            unlink(tmp)
            throw e
        }
        InfoFileIO.syncDirectory(of: path)
    }

    /// Creates `path` only if the name is free (R40: temp file + `link()`); returns false when the
    /// name is taken (EEXIST), throws on other errors.
    package static func claim(_ text: String, at path: String) throws(SystemError) -> Bool {
        let mode = 0o666 & ~FileSystem.umask
        let tmp = try InfoFileIO.createTemp(Array(text.utf8), for: path, mode: mode)
        defer { unlink(tmp) }
        if link(tmp, path) == 0 {
            InfoFileIO.syncDirectory(of: path)
            return true
        }
        if errno == EEXIST { return false }
        throw SystemError.fromErrno("create", path)
    }

    /// Replaces a dead job's file (R40): rename the old file to `.<name>.replaced-<pid>`, claim the
    /// name with `link()`, delete the renamed file. Returns false if another process won a race.
    package static func replaceDead(_ text: String, at path: String) throws(SystemError) -> Bool {
        // The new file gets new-file permissions: the old one may carry qq kill's lock (R44).
        let mode = 0o666 & ~FileSystem.umask
        let tmp = try InfoFileIO.createTemp(Array(text.utf8), for: path, mode: mode)
        defer { unlink(tmp) }
        let name = InfoFileIO.split(path).name
        let replaced = InfoFileIO.sibling(of: path, named: ".\(name).replaced-\(getpid())")
        if rename(path, replaced) != 0 {
            // Gone already: another process won the rename.
            if errno == ENOENT { return false }
            throw SystemError.fromErrno("rename", path)
        }
        if link(tmp, path) == 0 {
            unlink(replaced)
            InfoFileIO.syncDirectory(of: path)
            return true
        }
        let code = errno
        if code != EEXIST {
            // Not a lost race but a failure: put the old file back (without clobbering a new one).
            _ = link(replaced, path)
        }
        unlink(replaced)
        if code == EEXIST { return false }
        throw SystemError(code: code, operation: "create", path: path)
    }

    /// Reads a work-dir marker with `O_NOFOLLOW` (R45, R134).
    package static func loadMarker(path: String) throws(InfoFileLoadError) -> WorkDirMarker {
        let bytes: [UInt8]
        do { bytes = try FileSystem.readBytes(path, flags: O_NOFOLLOW) } catch { throw .unreadable(error) }
        do { return try InfoFileCodec.decodeMarker(bytes: bytes, path: path) } catch { throw .invalid(error) }
    }

    /// Encodes `record` and writes it atomically (R38). The R39 reload-check is the caller's.
    package static func writeRecord(_ record: InfoRecord, to path: String) throws(SystemError) {
        try writeAtomically(InfoFileCodec.encode(record), to: path)
    }

    /// Encodes `marker` and writes it atomically with mode 0600 for a new file (R45).
    package static func writeMarker(_ marker: WorkDirMarker, to path: String) throws(SystemError) {
        try writeAtomically(InfoFileCodec.encodeMarker(marker), to: path, modeIfNew: 0o600)
    }
}

extension InfoFileCodec {
    /// Parses state-file bytes (invalid UTF-8 is read as U+FFFD). `path` is only for messages.
    package static func decode(bytes: [UInt8], path: String) throws(InfoFileError) -> InfoRecord {
        try decodeInfo(bytes: bytes, path: path)
    }
}
