# Helpers of the MPI tests that kill a rank mid-run, sourced by them (not a test itself). A rank
# is looked for among the job's own descendants only: tests run side by side (ctest -j), and
# another test's job has ranks of the same numbers.

# The processes below process $1, depth first.
descendants() { local c; for c in $(pgrep -P "$1"); do echo "$c"; descendants "$c"; done; }

# kill_rank JOB RANK: once the background job JOB's capture CAPTURE shows progress (up to
# WAIT_TENTHS tenths of a second), SIGKILL to the process of MPI rank RANK under it, then waits
# for the job. Sets job_rc (the job's exit status) and job_took (seconds from the kill to its
# end); returns 1 when no such rank was found (the job is then stopped and waited for).
kill_rank() { # job rank capture wait_tenths
    local job=$1 rank=$2 victim="" p
    for _ in $(seq "$4"); do grep -q '"type":"progress"' "$3" 2>/dev/null && break; sleep 0.1; done
    for p in $(descendants "$job"); do
        tr '\0' '\n' <"/proc/$p/environ" 2>/dev/null | grep -qx "OMPI_COMM_WORLD_RANK=$rank" && victim=$p
    done
    if [ -z "$victim" ]; then
        kill "$job" 2>/dev/null
        wait "$job"
        return 1
    fi
    local start=$SECONDS
    kill -9 "$victim"
    wait "$job"
    job_rc=$?
    job_took=$((SECONDS - start))
}
