import CQQSystem
import Glibc

/// What stage-in recorded about one file it created (R87).
package struct ManifestEntry: Sendable, Hashable {
    package var work: FileStatus
    package var sourceSize: Int64
    package var sourceMtimeNanos: Int64

    package init(work: FileStatus, sourceSize: Int64, sourceMtimeNanos: Int64) {
        self.work = work; self.sourceSize = sourceSize; self.sourceMtimeNanos = sourceMtimeNanos
    }
}

/// Stage-in's record of the work copies, keyed by relative path (R87).
package struct Manifest: Sendable {
    package var entries: [PathBytes: ManifestEntry] = [:]
    package init() {}

    /// The manifest's file in a work dir (a control file, §2).
    package static let fileName = ".qq-run-manifest"

    /// R99: a work-dir file is unchanged when device, inode, size, mtime and ctime all match.
    package func isUnchanged(_ rel: PathBytes, _ st: FileStatus) -> Bool {
        guard let e = entries[rel]?.work else { return false }
        return Manifest.matches(e, st)
    }

    @inline(__always)
    static func matches(_ e: FileStatus, _ st: FileStatus) -> Bool {
        e.device == st.device && e.inode == st.inode && e.size == st.size
            && e.mtimeSeconds == st.mtimeSeconds && e.mtimeNanos == st.mtimeNanos
            && e.ctimeSeconds == st.ctimeSeconds && e.ctimeNanos == st.ctimeNanos
    }

    // MARK: The file `.qq-run-manifest` (format internal to qq-run)
    //
    // "QQRUN-MANIFEST-1\n", u64 entry count, then per entry: u32 path length, path bytes (any bytes,
    // R12a), u64 device, u64 inode, u32 mode, u32 uid, i64 size, i64 mtime s, i64 mtime ns,
    // i64 ctime s, i64 ctime ns, i64 source size, i64 source mtime ns; last an XXH64 of all that
    // precedes it. Little-endian. Entries are in dictionary order (sorting 10k paths cost ~3 ms).

    static let magic = PathBytes("QQRUN-MANIFEST-1\n".utf8)

    /// The manifest as bytes.
    package func encoded() -> [UInt8] {
        var out = Manifest.magic
        out.reserveCapacity(out.count + 8 + entries.count * 120)
        func put<T: FixedWidthInteger>(_ v: T) {
            withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
        }
        put(UInt64(entries.count))
        for (path, e) in entries {
            put(UInt32(path.count)); out.append(contentsOf: path)
            let w = e.work
            put(w.device); put(w.inode); put(w.mode); put(w.uid); put(w.size)
            put(w.mtimeSeconds); put(w.mtimeNanos); put(w.ctimeSeconds); put(w.ctimeNanos)
            put(e.sourceSize); put(e.sourceMtimeNanos)
        }
        put(out.withUnsafeBytes { cqq_xxh64($0.baseAddress, $0.count, 0) })
        return out
    }

    /// Decodes `encoded()`; nil when the bytes are not a whole, intact manifest.
    package static func decode(_ bytes: [UInt8]) -> Manifest? {
        guard bytes.count >= magic.count + 16, bytes.starts(with: magic) else { return nil }
        return bytes.withUnsafeBytes { raw -> Manifest? in
            let body = raw.count - 8
            let stored = raw.loadUnaligned(fromByteOffset: body, as: UInt64.self).littleEndian
            guard cqq_xxh64(raw.baseAddress, body, 0) == stored else { return nil }
            var at = magic.count
            func get<T: FixedWidthInteger>(_: T.Type) -> T? {
                guard at + MemoryLayout<T>.size <= body else { return nil }
                defer { at += MemoryLayout<T>.size }
                return T(littleEndian: raw.loadUnaligned(fromByteOffset: at, as: T.self))
            }
            guard let count = get(UInt64.self), count <= UInt64(body / 92 + 1) else { return nil }
            var m = Manifest()
            m.entries.reserveCapacity(Int(count))
            for _ in 0..<count {
                guard let n = get(UInt32.self), at + Int(n) <= body else { return nil }
                let path = PathBytes(raw[at..<(at + Int(n))])
                at += Int(n)
                var s = cqq_stat()
                guard let dev = get(UInt64.self), let ino = get(UInt64.self), let mode = get(UInt32.self),
                      let uid = get(UInt32.self), let size = get(Int64.self), let ms = get(Int64.self),
                      let mn = get(Int64.self), let cs = get(Int64.self), let cn = get(Int64.self),
                      let srcSize = get(Int64.self), let srcMtime = get(Int64.self) else { return nil }
                s.dev = dev; s.ino = ino; s.mode = mode; s.uid = uid; s.size = size
                s.mtime_sec = ms; s.mtime_nsec = mn; s.ctime_sec = cs; s.ctime_nsec = cn
                m.entries[path] = ManifestEntry(work: FileStatus(s), sourceSize: srcSize, sourceMtimeNanos: srcMtime)
            }
            return at == body ? m : nil
        }
    }

    /// Writes `<workDir>/.qq-run-manifest` (mode 0600) through a temporary name and a rename.
    /// `name`: another file of the same format (qq-sync's record, `.qq-run-synced`).
    package func write(to workDir: String, name: String = Manifest.fileName) throws(SystemError) {
        let path = FileSystem.joinPath(workDir, name)
        let temp = FileSystem.joinPath(workDir, ".\(name).tmp-\(FileSystem.randomHex())")
        let fd: FileDescriptor
        switch FileDescriptor.open(temp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW, mode: 0o600) {
        case .success(let opened): fd = opened
        case .failure(let e): throw SystemError(code: e.code, operation: "create", path: temp)
        }
        let written = fd.writeAll(encoded())
        let closed = fd.close()
        if case .failure(let e) = written.flatMap({ closed }) {
            unlink(temp)
            throw SystemError(code: e.code, operation: "write", path: temp)
        }
        if rename(temp, path) != 0 {
            let code = errno
            unlink(temp)
            throw SystemError(code: code, operation: "rename", path: path)
        }
    }

    /// Reads `<workDir>/.qq-run-manifest`. A missing file gives an empty manifest; an unreadable or
    /// corrupt one gives an empty manifest and a WARNING (every work-dir file then counts as new).
    package static func read(from workDir: String, name: String = Manifest.fileName) -> Manifest {
        let path = FileSystem.joinPath(workDir, name)
        let fd: FileDescriptor
        switch FileDescriptor.open(path, O_RDONLY | O_NOFOLLOW) {
        case .success(let opened): fd = opened
        case .failure(let e):
            if e.code != ENOENT {
                Log.warning("Cannot read the stage-in manifest '\(path)': \(e); treating every file as new.")
            }
            return Manifest()
        }
        var sizeHint = 1 << 20
        if let st = fd.status(), st.size > 0, st.size < 1 << 34 { sizeHint = Int(st.size) + 1 }
        let bytes: [UInt8]
        switch fd.readAll(sizeHint: sizeHint, limit: 1 << 34) {
        case .success(let read): bytes = read
        case .failure(let e):
            Log.warning("Cannot read the stage-in manifest '\(path)': \(e); treating every file as new.")
            return Manifest()
        }
        guard let m = decode(bytes) else {
            Log.warning("The stage-in manifest '\(path)' is damaged; treating every file as new.")
            return Manifest()
        }
        return m
    }
}
