#!/usr/bin/env -S qq-run
# qq work-dir=scratch
# qq transfer-mode=success
#SBATCH --time=00:05:00
#SBATCH --ntasks=1
#
# An example job for qq-run. It counts the lines and words of input.txt, adds up the numbers in it
# and writes result.txt.
#
#   here, without a scheduler:   qq-run --local job.sh
#   on a Slurm cluster:          sbatch job.sh      (from this directory)
#
# qq-run copies this directory to a scratch work dir, runs the script there, copies new and changed
# files back when it succeeds and keeps the job's state in job.qqinfo (see it with `qq-info`).
set -euo pipefail

echo "Job ${QQ_JOB_ID} (${QQ_BATCH_SYSTEM}) on $(hostname), ${QQ_NCPUS} CPU(s)"
echo "Input dir: ${QQ_INPUT_DIR}"
echo "Work dir:  ${QQ_WORK_DIR} (here: ${PWD})"

lines=0 words=0 sum=0
while IFS= read -r line || [[ -n $line ]]; do
    lines=$((lines + 1))
    for word in $line; do
        words=$((words + 1))
        if [[ $word =~ ^-?[0-9]+$ ]]; then sum=$((sum + word)); fi
    done
    echo "progress: read line ${lines}"
done < input.txt

{
    echo "lines: ${lines}"
    echo "words: ${words}"
    echo "sum of numbers: ${sum}"
} > result.txt

echo "Wrote result.txt:"
cat result.txt
