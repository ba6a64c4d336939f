/* An outside program built against an installed fdsafe. */
#include <stdio.h>
#include <fdsafe.h>

int main(void) {
    if (fdsafe_version_number() != FDSAFE_VERSION_NUMBER) {
        fprintf(stderr, "header %s but library %s\n", FDSAFE_VERSION_STRING, fdsafe_version_string());
        return 1;
    }
    fdsafe_handle ev;
    uint64_t value = 0;
    if (fdsafe_eventfd_create(41, 0, &ev) < 0 || fdsafe_eventfd_write(ev, 1) < 0 || fdsafe_eventfd_read(ev, &value) < 0)
        return 1;
    fdsafe_close(ev);
    printf("installed fdsafe %s works: %llu\n", fdsafe_version_string(), (unsigned long long)value);
    return value == 42 ? 0 : 1;
}
