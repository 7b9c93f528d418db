import Glibc

// Issue 12, item 4: `qq-info --tail [N]` and `qq-info --follow`. The job's stdout and stderr are
// read from the work dir while it runs (the script writes them there) and from the input dir after
// it ended (stage-out copied them home). Bytes are printed as they are: logs are not always text.

/// The last lines of a file, read backwards from its end in blocks: a multi-GB log costs a few
/// reads, never a whole read.
enum TailReader {
    static let blockSize = 64 * 1024
    /// A "line" longer than this is cut: its last `byteLimit` bytes are shown.
    static let byteLimit = 8 * 1024 * 1024

    struct Tail: Equatable {
        /// The last lines, as they are in the file (a last line without its newline stays so).
        var bytes: [UInt8]
        /// Where `bytes` start in the file.
        var start: Int64
        /// How many bytes were read to find them (the tests check it stays small).
        var bytesRead: Int
    }

    /// The last `count` lines of `fd` before offset `end` (normally its size).
    static func lastLines(_ fd: Int32, count: Int, end: Int64) -> Result<Tail, Errno> {
        guard count > 0, end > 0 else { return .success(Tail(bytes: [], start: end, bytesRead: 0)) }
        let floor = max(0, end - Int64(byteLimit))
        var blocks: [[UInt8]] = []
        var position = end
        var newlines = 0
        var start = floor
        var bytesRead = 0
        var lastByteSeen = false
        search: while position > floor {
            let length = Int(min(Int64(blockSize), position - floor))
            position -= Int64(length)
            let block: [UInt8]
            switch readBlock(fd, at: position, length: length) {
            case .success(let b): block = b
            case .failure(let e): return .failure(e)
            }
            bytesRead += block.count
            blocks.append(block)
            var i = block.count - 1
            while i >= 0 {
                if block[i] == 10 {
                    // The newline that ends the file ends the last line; it separates nothing.
                    if !lastByteSeen && position + Int64(i) == end - 1 {
                    } else {
                        newlines += 1
                        if newlines == count { start = position + Int64(i) + 1; break search }
                    }
                }
                lastByteSeen = true
                i -= 1
            }
        }
        var bytes: [UInt8] = []
        bytes.reserveCapacity(Int(end - start))
        var blockStart = position
        for block in blocks.reversed() {
            let from = max(0, Int(start - blockStart))
            if from < block.count { bytes += block[from...] }
            blockStart += Int64(block.count)
        }
        return .success(Tail(bytes: bytes, start: start, bytesRead: bytesRead))
    }

    /// pread(2) of exactly `length` bytes at `offset`, fewer only at the end of the file.
    static func readBlock(_ fd: Int32, at offset: Int64, length: Int) -> Result<[UInt8], Errno> {
        var buffer = [UInt8](repeating: 0, count: length)
        var count = 0
        while count < length {
            let r = buffer.withUnsafeMutableBytes { raw in
                retryingOnInterrupt { pread(fd, raw.baseAddress! + count, length - count, off_t(offset) + off_t(count)) }
            }
            switch r {
            case .success(0): buffer.removeSubrange(count...); return .success(buffer)
            case .success(let n): count += n
            case .failure(let e): return .failure(e)
            }
        }
        return .success(buffer)
    }
}

/// Prints the logs of the jobs qq-info found: their tails, and with `follow` every new line until
/// each job has ended, then its `--short` line.
struct LiveOutput {
    struct Request: Equatable {
        var lines = 20
        var follow = false
    }

    private let request: Request
    private let environment: Environment
    private let context: InfoContext
    private let write: ([UInt8]) -> Void
    private var jobs: [FollowedJob]
    /// The last stream a line was printed from; a header is printed when it changes (as `tail -f`).
    private var lastSource: (job: Int, stream: Int)?

    /// Where the output goes: stdout, whole writes (tests give their own sink).
    static let standardOutput: @Sendable ([UInt8]) -> Void = { bytes in _ = bytes.withUnsafeBytes { writeAllBytes(STDOUT_FILENO, $0) } }

    init(jobs: [LoadedInfo], request: Request, environment: Environment, context: InfoContext,
         write: @escaping ([UInt8]) -> Void = LiveOutput.standardOutput) {
        self.request = request; self.environment = environment; self.context = context; self.write = write
        self.jobs = jobs.map(FollowedJob.init)
    }

    /// The whole of `--tail` / `--follow`: returns when every job has ended (at once without `follow`).
    mutating func run(noBatch: Bool) {
        refreshStates(noBatch: noBatch)
        for j in jobs.indices {
            for s in jobs[j].streams.indices { printTail(job: j, stream: s) }
        }
        guard request.follow else { return }
        for j in jobs.indices where jobs[j].ended { finish(job: j) }
        while jobs.contains(where: { !$0.done }) {
            // Polling, not inotify: the work dir is usually on a shared scratch (NFS, Lustre), where
            // inotify does not see what another node writes. Once a second is `tail -F`'s pace.
            sleepUninterrupted(seconds: 1)
            refreshStates(noBatch: noBatch)
            for j in jobs.indices where !jobs[j].done {
                if jobs[j].ended { finish(job: j); continue }
                for s in jobs[j].streams.indices { printNew(job: j, stream: s) }
            }
        }
    }

    // MARK: State

    /// Reloads each unfinished job's state file and asks the batch system once per job (R122).
    private mutating func refreshStates(noBatch: Bool) {
        let open = jobs.indices.filter { !jobs[$0].done }
        var loaded: [LoadedInfo] = []
        for j in open {
            if case .success(let info) = Discovery.load(jobs[j].info.path, loader: context.loadInfo) {
                var fresh = info
                fresh.knownAnswer = nil
                jobs[j].info = fresh
            }
            loaded.append(jobs[j].info)
        }
        let answers = JobLookup.queryAll(loaded, noBatch: noBatch, environment: environment, context: context)
        let now = context.now()
        for (j, answer) in zip(open, answers) {
            let info = jobs[j].info
            jobs[j].status = JobStatus.evaluate(record: info.record, answer: answer, fileMTime: info.mtime, now: now,
                                                clockSkew: context.settings.clockSkew)
        }
    }

    // MARK: Printing

    private mutating func printTail(job j: Int, stream s: Int) {
        let stream = jobs[j].streams[s]
        switch jobs[j].open(stream: s) {
        case .unavailable(let why):
            header(job: j, stream: s)
            line(job: j, Array("(\(why))".utf8))
        case .unreachable(let why):
            header(job: j, stream: s)
            line(job: j, Array("(\(why))".utf8))
            stream.tailFirst = true
        case .opened(let file, let size):
            header(job: j, stream: s)
            stream.tailFirst = false
            switch TailReader.lastLines(file.rawValue, count: request.lines, end: size) {
            case .success(let tail):
                printLines(job: j, tail.bytes, finalPartial: true)
                stream.offset = size
            case .failure(let e):
                line(job: j, Array("(cannot read \(stream.path ?? stream.name): \(e))".utf8))
                stream.offset = size
            }
            stream.file = consume file
        }
    }

    /// New complete lines of one stream; an unfinished last line waits for its newline.
    private mutating func printNew(job j: Int, stream s: Int, atEnd: Bool = false) {
        let stream = jobs[j].streams[s]
        if stream.file == nil {
            switch jobs[j].open(stream: s) {
            case .unavailable: return
            case .unreachable: return
            case .opened(let file, _): stream.file = consume file
            }
        }
        guard let size = stream.file?.status()?.size else { return }
        if size < stream.offset {
            // Truncated (`> job.out` in the script): start again at its beginning.
            header(job: j, stream: s)
            line(job: j, Array("(\(stream.name) was truncated)".utf8))
            stream.offset = 0
        }
        while stream.offset < size {
            let length = Int(min(Int64(TailReader.blockSize), size - stream.offset))
            guard let fd = stream.file?.rawValue, case .success(let bytes) = TailReader.readBlock(fd, at: stream.offset, length: length),
                  !bytes.isEmpty else { return }
            let complete = atEnd ? bytes.count : (bytes.lastIndex(of: 10).map { $0 + 1 } ?? 0)
            if complete == 0 {
                // A line longer than a block is printed in pieces rather than never.
                guard bytes.count == TailReader.blockSize else { return }
                header(job: j, stream: s)
                printLines(job: j, bytes, finalPartial: false)
                stream.offset += Int64(bytes.count)
                continue
            }
            header(job: j, stream: s)
            printLines(job: j, Array(bytes[..<complete]), finalPartial: atEnd)
            stream.offset += Int64(complete)
        }
    }

    /// The job has ended: what is left in the file already open (a work-dir file stays readable
    /// after the work dir is removed), then what only the input-dir copy has, then the state line.
    private mutating func finish(job j: Int) {
        for s in jobs[j].streams.indices {
            let stream = jobs[j].streams[s]
            // Never readable from here (work dir on another node): its last lines, as --tail.
            if stream.tailFirst { printTail(job: j, stream: s); stream.file = nil; continue }
            printNew(job: j, stream: s)
            // The copy home has what was written after our descriptor's file was replaced; the
            // offset carries over, so nothing is printed twice.
            let home = jobs[j].homePath(s)
            if let st = FileSystem.stat(home), st.isRegular,
               st.identity != stream.file?.status()?.identity {
                switch FileDescriptor.open(home, O_RDONLY) {
                case .success(let fd):
                    stream.file = consume fd
                    stream.path = home
                case .failure: break
                }
            }
            printNew(job: j, stream: s, atEnd: true)
            stream.file = nil
        }
        if let status = jobs[j].status {
            lastSource = nil
            write(Array((InfoPanel.shortLine(record: jobs[j].info.record, status: status, colors: false) + "\n").utf8))
        }
        jobs[j].done = true
    }

    private mutating func header(job j: Int, stream s: Int) {
        if let last = lastSource, last.job == j, last.stream == s { return }
        let blank = lastSource != nil
        lastSource = (j, s)
        if blank { write([10]) }
        line(job: j, Array("==> \(jobs[j].streams[s].name) <==".utf8))
    }

    private func line(job j: Int, _ bytes: [UInt8]) {
        write(prefix(j) + bytes + [10])
    }

    /// With more than one job, every line starts with its job id.
    private func prefix(_ j: Int) -> [UInt8] {
        jobs.count > 1 ? Array("\(shortJobID(jobs[j].info.record.jobID)): ".utf8) : []
    }

    /// Whole lines, each prefixed; a last piece without a newline gets one when `finalPartial`.
    private func printLines(job j: Int, _ bytes: [UInt8], finalPartial: Bool) {
        guard !bytes.isEmpty else { return }
        let p = prefix(j)
        if p.isEmpty {
            write(bytes)
        } else {
            var out: [UInt8] = []
            out.reserveCapacity(bytes.count + p.count * 16)
            var atLineStart = true
            for b in bytes {
                if atLineStart { out += p }
                out.append(b)
                atLineStart = b == 10
            }
            write(out)
        }
        if finalPartial && bytes.last != 10 { write([10]) }
    }
}

/// One stream of one job: its name, the file being read and how far.
private final class FollowedStream {
    let name: String
    var path: String?
    var file: FileDescriptor?
    var offset: Int64 = 0
    /// Not readable while the job ran: at its end the last lines are shown, not the whole file.
    var tailFirst = false
    init(name: String) { self.name = name }
}

private struct FollowedJob {
    var info: LoadedInfo
    var status: JobStatus?
    var done = false
    let streams: [FollowedStream]

    init(_ info: LoadedInfo) {
        self.info = info
        streams = [FollowedStream(name: info.record.stdoutFile), FollowedStream(name: info.record.stderrFile)]
    }

    /// Nothing writes the logs any more: qq-run is done (finished, failed, killed, lost), or the
    /// batch system says the job is gone, whatever the file says (a qq-run killed with SIGKILL).
    var ended: Bool {
        guard let status else { return false }
        switch status.realState {
        case .finished, .failed, .killed, .lost: return true
        default: break
        }
        switch status.answer {
        case .notFound: return true
        case .found(let r): return r.state == .finished || r.state == .failed
        default: return false
        }
    }

    /// Where the logs are while it runs, when this host can see it.
    var workDir: String? {
        guard let dir = info.record.workDir, FileSystem.stat(dir)?.isDirectory == true else { return nil }
        return dir
    }

    func homePath(_ s: Int) -> String { FileSystem.joinPath(info.record.inputDir, streams[s].name) }

    enum Opened: ~Copyable {
        case opened(FileDescriptor, size: Int64)
        case unavailable(String)
        case unreachable(String)
    }

    /// The file to read now: the work dir's while the job runs, the input dir's once it ended.
    func open(stream s: Int) -> Opened {
        let name = streams[s].name
        let record = info.record
        var candidates: [String] = []
        if !ended {
            if record.jobState == .queued && record.workDir == nil { return .unavailable("not written yet: the job is queued") }
            guard let dir = workDir else {
                guard let dir = record.workDir else { return .unavailable("not written yet: the job has not started its script") }
                return .unreachable("the work dir \(dir) is not reachable from \(thisHostName()); the output is shown here when the job has ended")
            }
            candidates.append(FileSystem.joinPath(dir, name))
        }
        // Stage-out copies the logs home before the state says finished, failed or killed.
        if ended || [.finished, .failed, .killed].contains(record.jobState) { candidates.append(homePath(s)) }
        for path in candidates {
            guard FileSystem.stat(path)?.isRegular == true else { continue }
            switch FileDescriptor.open(path, O_RDONLY) {
            case .success(let fd):
                guard let size = fd.status()?.size else { continue }
                streams[s].path = path
                return .opened(fd, size: size)
            case .failure(let e): return .unavailable("cannot open \(path): \(e)")
            }
        }
        return .unavailable(ended ? "no such file: \(candidates.last ?? name)" : "not written yet")
    }
}
