/*
 * writeloop is the floor for the shared world's cost per event, in C.
 *
 * It serves GET of any path as an event stream of the shared world's
 * shape. A stream gets a retry field and an init event, then a move event
 * every interval. At each interval the program writes the same move to
 * every stream, with one non-blocking write(2) per stream. One thread per
 * core does the writing, each with its share of the streams.
 *
 * The program parses no HTTP beyond the end of the request head. It sends
 * no heartbeats, and has no resume, no limits and no metrics. What is left
 * is the cost that any server pays to deliver an event over TCP. The Go
 * engine's figures are compared with it (BENCHMARKS.md, "Against C: the
 * floor and nchan").
 *
 * A stream whose socket is full misses that write, with no catch-up. The
 * load generator counts the move as lost, so a run with 0 lost had every
 * write whole.
 *
 *   cc -O2 -pthread -o /tmp/writeloop bench/writeloop.c
 *   /tmp/writeloop 127.0.0.1 18600 100     # address, port, interval in ms
 *   /tmp/writeloop 127.0.0.1 18600 100 1   # ... and writer threads (default: one per core it may run on)
 *   WRITELOOP_SEND=1 /tmp/writeloop ...     # send(2) with MSG_DONTWAIT|MSG_NOSIGNAL rather than write(2), as the Go engine on Linux
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define MAXFD 65536

static long interval_ms;
static int use_send; /* set by WRITELOOP_SEND=1, to write with send(2) rather than write(2) */
static int nthreads;

/* shard holds the streams of one writer thread. fds are its own. added
 * holds those opened since its last burst, which it takes at the start of
 * the next. The lock guards only added, so that the accepting thread never
 * waits for a burst. At 19,000 streams a burst takes most of the interval. */
struct shard {
	int fds[MAXFD];
	int n;
	pthread_mutex_t mu;
	int added[MAXFD];
	int nadded;
};
static struct shard *shards;

static uint64_t now_ms(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void die(const char *what)
{
	perror(what);
	exit(1);
}

/* appendmove appends move seq, due at ts ms, to b, and returns its length. */
static int appendmove(char *b, size_t size, uint64_t seq, uint64_t ts)
{
	return snprintf(b, size, "id: %llu\nevent: move\ndata: {\"seq\":%llu,\"x\":%llu,\"y\":%llu,\"ts\":%llu}\n\n",
			(unsigned long long)seq, (unsigned long long)seq, (unsigned long long)(seq % 800),
			(unsigned long long)(seq % 600), (unsigned long long)ts);
}

/* writer sleeps to each interval's boundary of the wall clock, and writes
 * that move to each of its streams. Woken late, past the next boundary, it
 * writes every move missed (up to MAXLATE) in the one write of each
 * stream, as the Go engine does. No move is skipped. */
#define MAXLATE 64
static void *writer(void *arg)
{
	struct shard *s = arg;
	static __thread char ev[MAXLATE * 128];
	uint64_t last = now_ms(CLOCK_REALTIME) / interval_ms; /* the last move written */
	for (;;) {
		uint64_t next = (last + 1) * interval_ms;
		struct timespec at = {.tv_sec = next / 1000, .tv_nsec = (next % 1000) * 1000000};
		while (clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &at, NULL) == EINTR)
			;
		uint64_t seq = now_ms(CLOCK_REALTIME) / interval_ms;
		if (seq - last > MAXLATE)
			last = seq - MAXLATE;
		int len = 0;
		for (uint64_t q = last + 1; q <= seq; q++)
			len += appendmove(ev + len, sizeof ev - len, q, q * interval_ms);
		last = seq;
		pthread_mutex_lock(&s->mu);
		for (int i = 0; i < s->nadded; i++) {
			if (s->n < MAXFD)
				s->fds[s->n++] = s->added[i];
			else
				close(s->added[i]); /* no room, as in opened() */
		}
		s->nadded = 0;
		pthread_mutex_unlock(&s->mu);
		for (int i = 0; i < s->n;) {
			ssize_t w = use_send ? send(s->fds[i], ev, len, MSG_DONTWAIT | MSG_NOSIGNAL)
					     : write(s->fds[i], ev, len);
			if (w < 0 && errno != EAGAIN && errno != EINTR) { /* gone, so drop it */
				close(s->fds[i]);
				s->fds[i] = s->fds[--s->n];
				continue;
			}
			i++;
		}
	}
	return NULL;
}

/* opened answers a request head read from fd and gives fd to a writer. */
static void opened(int fd, int *turn)
{
	char head[512];
	uint64_t seq = now_ms(CLOCK_REALTIME) / interval_ms;
	int len = snprintf(head, sizeof head,
			   "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-cache\r\nConnection: close\r\n\r\n"
			   "retry: 2000\n\nid: %llu\nevent: init\ndata: {\"seq\":%llu,\"x\":0,\"y\":0}\n\n",
			   (unsigned long long)seq, (unsigned long long)seq);
	if (write(fd, head, len) != len) {
		close(fd);
		return;
	}
	struct shard *s = &shards[(*turn)++ % nthreads];
	pthread_mutex_lock(&s->mu);
	if (s->nadded < MAXFD)
		s->added[s->nadded++] = fd;
	else
		close(fd);
	pthread_mutex_unlock(&s->mu);
}

int main(int argc, char **argv)
{
	if (argc != 4 && argc != 5) {
		fprintf(stderr, "usage: writeloop ADDRESS PORT INTERVAL_MS [THREADS]\n");
		return 2;
	}
	signal(SIGPIPE, SIG_IGN); /* a client gone fails its write with EPIPE */
	const char *call = getenv("WRITELOOP_SEND");
	use_send = call && strcmp(call, "1") == 0;
	interval_ms = atol(argv[3]);
	if (interval_ms <= 0) {
		fprintf(stderr, "interval: must be a positive number of ms\n");
		return 2;
	}
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
	/* Run one writer per core the process may run on, as the Go engine
	 * has a shard per core of its affinity (GOMAXPROCS). Under
	 * taskset -c 0 that is one writer. */
	cpu_set_t cpus;
	nthreads = sched_getaffinity(0, sizeof cpus, &cpus) == 0 ? CPU_COUNT(&cpus) : (int)sysconf(_SC_NPROCESSORS_ONLN);
	if (argc == 5)
		nthreads = atoi(argv[4]);
	if (nthreads < 1 || nthreads > 256) {
		fprintf(stderr, "threads: must be an integer in [1, 256]\n");
		return 2;
	}
	shards = calloc(nthreads, sizeof *shards);
	if (!shards)
		die("calloc");

	int ln = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	int one = 1;
	setsockopt(ln, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[2]))};
	if (inet_pton(AF_INET, argv[1], &sa.sin_addr) != 1) {
		fprintf(stderr, "address: not an IPv4 address: %s\n", argv[1]);
		return 2;
	}
	if (bind(ln, (struct sockaddr *)&sa, sizeof sa) < 0)
		die("bind");
	if (listen(ln, 4096) < 0)
		die("listen");
	for (int i = 0; i < nthreads; i++) {
		pthread_t t;
		pthread_mutex_init(&shards[i].mu, NULL);
		if (pthread_create(&t, NULL, writer, &shards[i]) != 0)
			die("pthread_create");
	}
	printf("listening on http://%s:%s, %d writer threads, %s\n", argv[1], argv[2], nthreads, use_send ? "send(2)" : "write(2)");
	fflush(stdout);

	/* Accept, and read each request head to its blank line. */
	int ep = epoll_create1(0);
	struct epoll_event e = {.events = EPOLLIN, .data.fd = ln};
	epoll_ctl(ep, EPOLL_CTL_ADD, ln, &e);
	static char req[MAXFD][8]; /* the last bytes read of each request head */
	int turn = 0;
	struct epoll_event evs[256];
	for (;;) {
		int n = epoll_wait(ep, evs, 256, -1);
		for (int i = 0; i < n; i++) {
			int fd = evs[i].data.fd;
			if (fd == ln) {
				int c;
				while ((c = accept4(ln, NULL, NULL, SOCK_NONBLOCK)) >= 0) {
					if (c >= MAXFD) {
						close(c);
						continue;
					}
					setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
					memset(req[c], 0, sizeof req[c]);
					struct epoll_event ce = {.events = EPOLLIN, .data.fd = c};
					epoll_ctl(ep, EPOLL_CTL_ADD, c, &ce);
				}
				continue;
			}
			char buf[2048];
			ssize_t r = read(fd, buf, sizeof buf);
			if (r <= 0) {
				if (r < 0 && errno == EAGAIN)
					continue;
				epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
				close(fd);
				continue;
			}
			/* Keep the last 4 bytes across reads to find "\r\n\r\n". */
			char tail[8 + sizeof buf];
			memcpy(tail, req[fd], 4);
			memcpy(tail + 4, buf, r);
			int end = memmem(tail, 4 + r, "\r\n\r\n", 4) != NULL;
			memcpy(req[fd], tail + r, 4);
			if (end) {
				epoll_ctl(ep, EPOLL_CTL_DEL, fd, NULL);
				opened(fd, &turn);
			}
		}
	}
}
