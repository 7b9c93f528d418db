#!/usr/bin/env -S qq-run
# A simulation longer than one walltime, as a loop job: cycle N continues from the checkpoint
# cycle N-1 left (mdN.cpt), writes its results (mdN.*) and the checkpoint for the next cycle
# (md<N+1>.cpt). qq-run archives each cycle's files in storage/ and submits the next cycle
# when this one has finished (sbatch --dependency=afterok), until loop-end.
#
#   sbatch md-loop.sh            # on Slurm: cycles 1..5, one job each
#   qq-run --local md-loop.sh    # on this machine: all cycles, one after another
#
# qq job-type=loop
# qq loop-end=5
# qq archive=storage
# qq archive-format=md%04d
# qq resubmit-on=timeout
#SBATCH --time=00:10:00

printf -v CURR "$QQ_ARCHIVE_FORMAT" "$QQ_LOOP_CURRENT"
printf -v NEXT "$QQ_ARCHIVE_FORMAT" "$((QQ_LOOP_CURRENT + 1))"

if [[ -f "$CURR.cpt" ]]; then
    step=$(cat "$CURR.cpt")            # continue where the last cycle stopped
else
    step=0                             # the first cycle starts from the input
fi
for i in 1 2 3; do
    step=$((step + 1))
    echo "step $step" >> "$CURR.log"   # the real engine would run here (gmx mdrun -cpi "$CURR.cpt" ...)
    echo "$step" > "$NEXT.cpt"         # its checkpoint, named for the next cycle
done

# A simulation that reaches its goal early can stop the loop: exit "$QQ_NO_RESUBMIT" (95).
if [[ $step -ge 100 ]]; then exit "$QQ_NO_RESUBMIT"; fi
