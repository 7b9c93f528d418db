import CQQSystem
import Glibc
import Synchronization
import Testing
@testable import QQCore

/// Issue 13: the copy engine's stream count adapts to the file systems, and the state file records it.
@Suite struct StagingStreamsTests {
    @Test func aCopyWaitingOnRoundTripsGetsMoreStreamsWhileThroughputGrows() {
        var tuner = StreamTuner(cpus: 2, ceiling: 16)
        #expect(tuner.limit == 4)
        #expect(tuner.observe(rate: 1000, busyCores: 0.3) == 8)
        #expect(tuner.observe(rate: 1500, busyCores: 0.4) == 16)
        #expect(!tuner.settled)
    }

    @Test func moreStreamsThatDoNotRaiseThroughputAreTakenBack() {
        var tuner = StreamTuner(cpus: 2, ceiling: 16)
        _ = tuner.observe(rate: 1000, busyCores: 0.3)
        #expect(tuner.observe(rate: 1050, busyCores: 0.3) == 4)
        #expect(tuner.settled)
        #expect(tuner.observe(rate: 5000, busyCores: 0.3) == 4)
    }

    @Test func aCopyToANetworkFileSystemStartsWithAllItsStreams() {
        var tuner = StreamTuner(cpus: 2, ceiling: 16, networked: true)
        #expect(tuner.limit == 16)
        #expect(tuner.observe(rate: 1000, busyCores: 0.5) == 16)
        #expect(tuner.settled)
    }

    @Test func aCopyThatKeepsItsCPUsBusyUsesOneStreamPerCPU() {
        var tuner = StreamTuner(cpus: 2, ceiling: 16)
        #expect(tuner.observe(rate: 90_000, busyCores: 1.9) == 2)
        #expect(tuner.settled)
    }

    @Test func theStreamsNeverExceedTheCeiling() {
        var tuner = StreamTuner(cpus: 1, ceiling: 8)
        var rate = 100.0
        for _ in 0..<10 {
            #expect(tuner.observe(rate: rate, busyCores: 0.1) <= 8)
            rate *= 2
        }
        #expect(tuner.limit == 8)
        #expect(tuner.settled)
    }

    /// Replaces R103's fixed default min(max(ncpus, 4), 16) (issue 13); `QQ_COPY_STREAMS` still fixes it.
    @Test func theCeilingGrowsWithTheJobsCPUsWithinBounds() {
        #expect(CopyEngine.defaultStreams(ncpus: 1) == 8)
        #expect(CopyEngine.defaultStreams(ncpus: 2) == 16)
        #expect(CopyEngine.defaultStreams(ncpus: 128) == 32)
        let engine = CopyEngine(cpus: 2)
        #expect(engine.adaptive && engine.streams == CopyEngine.defaultStreams(ncpus: min(2, Int(cqq_online_cpus()))))
        #expect(!CopyEngine(streams: 3).adaptive && CopyEngine(streams: 3).streams == 3)
    }

    @Test func thePoolRunsNoMoreTasksAtOnceThanItsLimit() {
        final class Counter { init() {} }
        let running = Atomic<Int>(0)
        let most = Atomic<Int>(0)
        let pool = WorkPool<Int, Counter>(workers: 8, makeContext: { Counter() })
        pool.setLimit(3)
        _ = pool.run(Array(0..<64)) { _, _ in
            let now = running.add(1, ordering: .relaxed).newValue
            _ = most.max(now, ordering: .relaxed)
            var ts = timespec(tv_sec: 0, tv_nsec: 1_000_000)
            nanosleep(&ts, nil)
            running.subtract(1, ordering: .relaxed)
        }
        #expect(most.load(ordering: .relaxed) <= 3)
        #expect(most.load(ordering: .relaxed) >= 1)
    }

    @Test func aStageInReportsTheStreamsItUsed() throws {
        let t = WorkArea("qq-streams")
        defer { t.cleanup() }
        for i in 0..<200 { t.write("in/d\(i % 4)/f\(i)", "content \(i)") }
        t.makeDirs(t.file("fixed"))
        t.makeDirs(t.file("tuned"))
        var manifest = Manifest()
        let fixed = CopyEngine(streams: 3).stageIn(from: t.file("in"), to: t.file("fixed"), filter: StageFilter(), manifest: &manifest)
        #expect(fixed.failures.isEmpty && fixed.files == 200)
        #expect(fixed.streams == 3)
        var tunedManifest = Manifest()
        let engine = CopyEngine(cpus: 2)
        let tuned = engine.stageIn(from: t.file("in"), to: t.file("tuned"), filter: StageFilter(), manifest: &tunedManifest)
        #expect(tuned.failures.isEmpty && tuned.files == 200)
        #expect((1...engine.streams).contains(tuned.streams))
    }

    @Test func theStateFileRecordsTheStreamsAfterTheOtherStageKeys() throws {
        var r = sampleRecord()
        r.stageIn = StageInStats(files: 3, bytes: 4096, seconds: 1.84, streams: 8)
        r.stageOut = StageOutStats(mode: .transfer, files: 1, bytes: 2, seconds: 0.5, streams: 4)
        let text = InfoFileCodec.encode(r)
        #expect(text.contains("stage_in:\n  files: 3\n  bytes: 4096\n  seconds: 1.84\n  streams: 8\n"))
        #expect(text.contains("stage_out:\n  mode: 'transfer'\n  files: 1\n  bytes: 2\n  seconds: 0.5\n  streams: 4\n"))
        let back = try InfoFileCodec.decode(text, path: "job.qqinfo")
        #expect(back.stageIn?.streams == 8)
        #expect(back.stageOut?.streams == 4)
    }

    @Test func aStateFileWithoutStreamsStillReads() throws {
        var r = sampleRecord()
        r.stageIn = StageInStats(files: 3, bytes: 4096, seconds: 1.84)
        r.stageOut = StageOutStats(mode: .transfer, files: 1, bytes: 2, seconds: 0.5)
        let text = InfoFileCodec.encode(r)
        #expect(!text.contains("streams"))
        let back = try InfoFileCodec.decode(text, path: "job.qqinfo")
        #expect(back.stageIn == StageInStats(files: 3, bytes: 4096, seconds: 1.84))
        #expect(back.stageOut?.streams == nil)
    }
}
