// SPEC §10 items 1, 2, 3, 5, 7: the names of a loop job's cycles and archived files, as qq forms
// them, matched literally (the "Fixes required": no unescaped regular expressions, cycle 0 valid).

import Testing
@testable import QQCore

@Suite struct LoopNamesTests {
    @Test func theCycleTagGoesBeforeTheFirstDotOfTheScriptName() {
        #expect(LoopNames.jobName(scriptName: "md.sh", cycle: 3) == "md+0003.sh")
        #expect(LoopNames.jobName(scriptName: "my.job.sh", cycle: 2) == "my+0002.job.sh")
        #expect(LoopNames.jobName(scriptName: "qq_loop_md", cycle: 3) == "qq_loop_md+0003")
        #expect(LoopNames.jobName(scriptName: "md.sh", cycle: 12345) == "md+12345.sh")
    }

    @Test func aCycleTaggedJobNameGivesBackItsScriptName() {
        #expect(LoopNames.scriptName(fromJobName: "md+0004.sh") == "md.sh")
        #expect(LoopNames.scriptName(fromJobName: "qq_loop_md+0003") == "qq_loop_md")
        #expect(LoopNames.scriptName(fromJobName: "md.sh") == nil)
        #expect(LoopNames.scriptName(fromJobName: "a+12.sh") == nil)
    }

    @Test func stemAndSuffixFollowPythonPathRules() {
        #expect(LoopNames.fileStem("md0003.part.cpt") == "md0003.part")
        #expect(LoopNames.suffix(ofFileName: "md0003.cpt") == ".cpt")
        #expect(LoopNames.suffix(ofFileName: ".hidden") == "")
        #expect(LoopNames.fileStem("README") == "README")
        #expect(LoopNames.stem(ofJobName: "md+0002.sh") == "md+0002")
    }

    @Test func runtimeFilesAreRecognisedBySuffix() {
        #expect(LoopNames.isRuntimeFile("md0002.qqinfo"))
        #expect(LoopNames.isRuntimeFile("md0002.err"))
        #expect(!LoopNames.isRuntimeFile("md0002.cpt"))
    }

    @Test func theFormatNamesACycle() {
        #expect(ArchiveFormat("md%04d").name(cycle: 3) == "md0003")
        #expect(ArchiveFormat("md%04d").name(cycle: 0) == "md0000")
        #expect(ArchiveFormat("run%d_x").name(cycle: 12) == "run12_x")
        #expect(ArchiveFormat("p%%%02d").name(cycle: 7) == "p%07")
    }

    @Test func theFormatMatchesStemsThatContainItLiterally() {
        let f = ArchiveFormat("md%04d")
        #expect(f.matches(stem: "md0003"))
        #expect(f.matches(stem: "md0004_pf"))
        #expect(f.matches(stem: "old_md00031"))
        #expect(!f.matches(stem: "md003"))
        #expect(!f.matches(stem: "mdx0003"))
        // A regex metacharacter is literal: `.` matches only a dot.
        let dotted = ArchiveFormat("a.b%d")
        #expect(dotted.matches(stem: "a.b1"))
        #expect(!dotted.matches(stem: "axb1"))
    }

    @Test func theFilesOfACycleContainItsName() {
        let f = ArchiveFormat("md%04d")
        #expect(f.isFile("md0003.cpt", ofCycle: 3))
        #expect(f.isFile("md0003_pf.xvg", ofCycle: 3))
        #expect(!f.isFile("md0004.cpt", ofCycle: 3))
        #expect(f.isFile("md0000.gro", ofCycle: 0))
        #expect(!f.isFile("md0000.gro", ofCycle: 1))
    }

    @Test func theArchiveDecidesTheCurrentCycle() {
        let f = ArchiveFormat("md%04d")
        #expect(f.currentCycle(archiveFileNames: [], start: 1) == 1)
        #expect(f.currentCycle(archiveFileNames: ["md0001.dat", "md0002.cpt", "md0001.qqinfo"], start: 1) == 2)
        // Only matching stems count, and only their first digit run.
        #expect(f.currentCycle(archiveFileNames: ["notes9.txt", "md0003_run7.dat"], start: 1) == 3)
        #expect(f.currentCycle(archiveFileNames: ["md0000.cpt"], start: 0) == 0)
        #expect(f.currentCycle(archiveFileNames: ["md0001.cpt"], start: 5) == 5)
    }
}
