/* The README's C example: a pipe and an eventfd through fdsafe handles. */
#include <stdio.h>
#include <string.h>

#include <fdsafe.h>

int main(void) {
    fdsafe_handle reader, writer, wakeup;
    int rc = fdsafe_pipe_create(0, &reader, &writer);
    if (rc < 0) {
        fprintf(stderr, "pipe: %s\n", fdsafe_strerror(rc));
        return 1;
    }
    fdsafe_write(writer, "hello", 5);
    char buf[16] = {0};
    int64_t n = fdsafe_read(reader, buf, sizeof buf - 1);
    printf("read %lld bytes: %s\n", (long long)n, buf);

    fdsafe_close(reader);
    rc = fdsafe_read(reader, buf, 1); /* a closed handle never works again */
    printf("after close: %s (%s)\n", fdsafe_error_name(rc), fdsafe_strerror(rc));

    fdsafe_close(writer);
    rc = fdsafe_close(writer); /* closing twice closes nothing else */
    printf("second close: %s\n", fdsafe_error_name(rc));

    if (fdsafe_eventfd_create(0, 0, &wakeup) == 0) {
        uint64_t value = 0;
        fdsafe_eventfd_write(wakeup, 3);
        fdsafe_eventfd_read(wakeup, &value);
        printf("eventfd counter: %llu\n", (unsigned long long)value);
        rc = fdsafe_eventfd_read(reader, &value); /* stale and of the wrong kind: stale wins */
        printf("eventfd_read on the closed pipe: %s\n", fdsafe_error_name(rc));
        fdsafe_close(wakeup);
    }
    return 0;
}
