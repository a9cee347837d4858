/* The qvm-* tools as one binary: the name it is called by (a symlink)
 * picks the tool; `qvm` itself lists them, or runs `qvm <tool> ARGS`. */
#include <libgen.h>
#include <stdio.h>
#include <string.h>

#include "tools/tools.h"

struct tool {
    const char *name;
    int (*main)(int argc, char **argv);
    const char *summary;
};

static const struct tool tools[] = {
    { "qvm-ls", qvm_ls_main, "list qubes and their properties" },
    { "qvm-create", qvm_create_main, "create a new qube" },
    { "qvm-create-default-netvms", qvm_create_default_netvms_main,
      "create sys-net and sys-firewall as the installer does" },
    { "qvm-remove", qvm_remove_main, "remove qubes" },
    { "qvm-clone", qvm_clone_main, "clone a qube" },
    { "qvm-prefs", qvm_prefs_main, "show or change properties of a qube" },
    { "qubes-prefs", qubes_prefs_main, "show or change global properties" },
    { "qvm-features", qvm_features_main, "manage features of a qube" },
    { "qvm-service", qvm_service_main, "manage services of a qube" },
    { "qvm-tags", qvm_tags_main, "manage tags of a qube" },
    { "qvm-check", qvm_check_main, "check existence and state of qubes" },
    { "qvm-notes", qvm_notes_main, "show or change notes of a qube" },
    { "qvm-firewall", qvm_firewall_main, "manage firewall rules of a qube" },
    { "qvm-volume", qvm_volume_main, "manage volumes of qubes" },
    { "qvm-pool", qvm_pool_main, "manage storage pools" },
    { "qvm-start", qvm_start_main, "start qubes" },
    { "qvm-shutdown", qvm_shutdown_main, "shut qubes down" },
    { "qvm-kill", qvm_kill_main, "stop qubes at once" },
    { "qvm-pause", qvm_pause_main, "pause qubes" },
    { "qvm-unpause", qvm_unpause_main, "unpause qubes" },
    { "qvm-run", qvm_run_main, "run a command in qubes" },
    { "qvm-template", qvm_template_main, "build, import, list and remove templates" },
};

static const struct tool *find_tool(const char *name)
{
    for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++)
        if (strcmp(tools[i].name, name) == 0)
            return &tools[i];
    return NULL;
}

int main(int argc, char **argv)
{
    const char *self = argc > 0 ? basename(argv[0]) : "qvm";
    const struct tool *t = find_tool(self);
    if (t)
        return t->main(argc, argv);
    if (argc > 1 && (t = find_tool(argv[1])) != NULL)
        return t->main(argc - 1, argv + 1);
    if (argc > 1 && strcmp(argv[1], "-h") != 0 && strcmp(argv[1], "--help") != 0) {
        fprintf(stderr, "qvm: unknown tool: %s\n", argv[1]);
        return 2;
    }
    printf("usage: qvm TOOL [ARGS...]  (or call a tool by its name)\n\ntools:\n");
    int width = 0;
    for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++)
        if ((int)strlen(tools[i].name) > width)
            width = (int)strlen(tools[i].name);
    for (size_t i = 0; i < sizeof(tools) / sizeof(tools[0]); i++)
        printf("  %-*s %s\n", width, tools[i].name, tools[i].summary);
    return 0;
}
