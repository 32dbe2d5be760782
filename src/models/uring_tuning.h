// Description: how the io_uring models size and drive their rings: queue
// sizes per connection count, the receive chunk, the batch wait, and the
// `unavailable` hook they share.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "models/model.h"
#include "sys/uring.h"
#include "workload/workload.h"

namespace iomodels::detail {

// Per receive: at most this much per connection, so 10,000 connections with
// large responses still fit in memory; a 1 MiB response takes 16 receives.
inline constexpr uint32_t kUringChunkBytes = 64 * 1024;

// Batch wait (Linux 6.12+): a sweep waits for every outstanding response but
// returns once this long has passed with at least one. While the peer is
// busy, responses pile up meanwhile and one enter reaps many; when they are
// slow, the first one after this wakes the loop as usual. It bounds the delay
// batching adds (plus this VM's timer slack of 50-100 us). Measured at 64
// socketpair connections, latency 0: 0.37 syscalls per request waiting for one
// CQE, 0.10 with this; 10 us gave 0.25-0.4 (the timer fires before a batch builds).
// Fewer syscalls, not less CPU: only the feature ladder's batch-wait step
// uses it (UringProactor::batch_wait_wanted).
inline constexpr uint32_t kUringBatchWaitUs = 50;

// SQPOLL: how long the SQ thread spins without work before it sleeps. Long
// enough to stay awake through a busy run's gaps between sweeps; short enough
// that with slow responses (latency of milliseconds) it sleeps and the
// wake-up cost shows.
inline constexpr unsigned kUringSqThreadIdleMs = 10;

// The one provided-buffer group of a multishot receive.
inline constexpr uint16_t kUringBufferGroup = 0;

// Sets up `buffers` as kUringBufferGroup of `ring`: two buffers of
// `buf_bytes` per connection, so each connection's chunks of one sweep fit,
// within the kernel's 32768 ring entries and, for big chunks, 64 MiB.
Status init_provided_buffers(sys::Ring& ring, size_t connections, uint32_t buf_bytes,
                             sys::BufferRing* buffers);

// Registers the connections' fds with `ring` (io_uring_register_files): a
// socket gets one slot for both directions, a pipe connection two. Connection
// i reads from slot (*rslot)[i] and writes to (*wslot)[i].
Status register_conn_files(sys::Ring& ring, std::span<const ClientConn> conns,
                           std::vector<int>* rslot, std::vector<int>* wslot);

// `base` with its queues sized for `connections`: the SQ holds a whole sweep
// (a send and a receive per connection) up to 2,048 connections, and the CQ
// has room for every connection's receive and a failed send at once.
sys::RingOptions ring_options_for(size_t connections, sys::RingOptions base = {});

// Why a multishot receive into provided buffers cannot serve `w` here
// (a regular file; a kernel without READ_MULTISHOT or multishot receive), or empty.
std::string multishot_why_not(const WorkloadOptions& w);

// How io_uring reads the regular file `fd` on this kernel, for the
// `file_reads` fact. io_uring first tries a read without waiting
// (IOCB_NOWAIT) and completes it inside the enter when the data is cached;
// a file whose filesystem cannot be asked not to wait (no FMODE_NOWAIT:
// tmpfs, up to at least Linux 6.18) has every read handed to an io-wq worker
// thread instead, which costs a wake-up there and one back per read. Probed
// with a 4 KiB preadv2(RWF_NOWAIT) at offset 0: EOPNOTSUPP says which.
std::string file_reads_text(int fd);

// What every io_uring model reports: "uring_setup", the IORING_SETUP_* flags
// the kernel took, and on the file transport "file_reads" (file_reads_text;
// empty: left out).
std::vector<Model::Fact> uring_facts(const sys::Ring& ring, const std::string& file_reads);

// The `unavailable` hook every io_uring model shares: empty, or why io_uring
// cannot run here (from the process-wide probe).
std::string uring_unavailable();

}  // namespace iomodels::detail
