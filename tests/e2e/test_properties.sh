# admin.vm.property.* and admin.property.* (reference §3, qubesd-facts §1, §3).
source "$(dirname "${BASH_SOURCE[0]}")/helpers.sh"

APPVM_PROPS="autostart backup_timestamp debug default_user dns gateway icon include_in_backups installed_by_rpm ip kernel klass label mac maxmem memory name provides_network qid qrexec_timeout shutdown_timeout start_time template_for_dispvms updateable uuid vcpus virt_mode visible_gateway visible_ip xid audiovm default_dispvm guivm kernelopts management_dispvm netvm template "

# The default maxmem: half the host memory, at most 4000 MiB.
default_maxmem() {
    local host
    host=$(call admin.property.Get dom0 maxmem)
    host=${host##* }
    echo $((host / 2 < 4000 ? host / 2 : 4000))
}

test_property_list() {
    mk_template fedora
    mk_appvm work fedora
    expect "0|icon
include_in_backups
klass
label
name
qid
updateable
uuid
default_dispvm
" admin.vm.property.List dom0
    assert_eq "0|$APPVM_PROPS" "$(call admin.vm.property.List work | tr '\n' ' ')" "AppVM list"
    tpl_props=${APPVM_PROPS/template_for_dispvms /}
    assert_eq "0|${tpl_props% template }" "$(call admin.vm.property.List fedora | tr '\n' ' ' | sed 's/ $//')" \
        "TemplateVM list"
    assert_eq "0|check_updates_vm clockvm default_audiovm default_dispvm default_guivm default_kernel default_netvm default_pool default_pool_kernel default_pool_private default_pool_root default_pool_volatile default_qrexec_timeout default_shutdown_timeout default_template default_virt_mode management_dispvm maxmem no_cpus stats_interval updatevm " \
        "$(call admin.property.List dom0 | tr '\n' ' ')" "global list"
    expect "2|ProtocolError||unexpected argument|" admin.vm.property.List work x
    expect "2|ProtocolError||expected destination to be AdminVM|" admin.property.List work
}

test_property_get_all_appvm() {
    mk_template fedora
    mk_appvm work fedora blue
    u=$(uuid_of work)
    expect "0|autostart default=True type=bool False
backup_timestamp default=True type=int 
debug default=True type=bool False
default_user default=True type=str user
dns default=True type=str 
gateway default=True type=str 
icon default=True type=str appvm-blue
include_in_backups default=True type=bool True
installed_by_rpm default=True type=bool False
ip default=True type=str 
kernel default=True type=str 
klass default=True type=str AppVM
label default=False type=label blue
mac default=True type=str 00:16:3e:5e:6c:00
maxmem default=True type=int $(default_maxmem)
memory default=True type=int 400
name default=False type=str work
provides_network default=True type=bool False
qid default=False type=int 2
qrexec_timeout default=True type=int 60
shutdown_timeout default=True type=int 60
start_time default=True type=str 
template_for_dispvms default=True type=bool False
updateable default=True type=bool False
uuid default=False type=str $u
vcpus default=True type=int 2
virt_mode default=True type=str sandbox
visible_gateway default=True type=str 
visible_ip default=True type=str 
xid default=True type=int -1
audiovm default=True type=vm dom0
default_dispvm default=True type=vm 
guivm default=True type=vm dom0
kernelopts default=True type=str 
management_dispvm default=True type=vm 
netvm default=True type=vm 
template default=False type=vm fedora
" admin.vm.property.GetAll work
}

test_property_get_all_dom0_and_global() {
    expect "0|icon default=True type=str adminvm-black
include_in_backups default=True type=bool True
klass default=True type=str AdminVM
label default=False type=label black
name default=True type=str dom0
qid default=True type=int 0
updateable default=True type=bool True
uuid default=True type=str 00000000-0000-0000-0000-000000000000
default_dispvm default=True type=vm 
" admin.vm.property.GetAll dom0
    host=$(call admin.property.Get dom0 maxmem)
    cpus=$(call admin.property.Get dom0 no_cpus)
    assert_eq "0|default=True type=int $(($(sed -n 's/^MemTotal: *\([0-9]*\) kB/\1/p' /proc/meminfo) / 1024))" \
        "$host" "host memory"
    assert_eq "0|default=True type=int $(getconf _NPROCESSORS_ONLN)" "$cpus" "host cpus"
    expect "0|check_updates_vm default=True type=bool True
clockvm default=True type=vm 
default_audiovm default=True type=vm dom0
default_dispvm default=True type=vm 
default_guivm default=True type=vm dom0
default_kernel default=True type=str 
default_netvm default=True type=vm 
default_pool default=True type=str varlibqubes
default_pool_kernel default=False type=str linux-kernel
default_pool_private default=True type=str varlibqubes
default_pool_root default=True type=str varlibqubes
default_pool_volatile default=True type=str varlibqubes
default_qrexec_timeout default=True type=int 60
default_shutdown_timeout default=True type=int 60
default_template default=True type=vm 
default_virt_mode default=True type=str sandbox
management_dispvm default=True type=vm 
maxmem ${host#0|}
no_cpus ${cpus#0|}
stats_interval default=True type=int 3
updatevm default=True type=vm 
" admin.property.GetAll dom0
}

test_property_get_errors() {
    mk_template fedora
    expect "2|QubesNoSuchPropertyError||Invalid property 'nope' of fedora|" admin.vm.property.Get fedora nope
    expect "2|QubesNoSuchPropertyError||Invalid property 'template' of fedora|" \
        admin.vm.property.Get fedora template
    expect "2|QubesNoSuchPropertyError||Invalid property 'netvm' of dom0|" admin.vm.property.Get dom0 netvm
    expect "2|QubesNoSuchPropertyError||Invalid property 'nope' of Qubes|" admin.property.Get dom0 nope
    expect "2|QubesNoSuchPropertyError||Invalid property 'memory' of Qubes|" admin.property.Get dom0 memory
    expect "2|ProtocolError||expected an argument|" admin.vm.property.Get fedora
    expect "2|ProtocolError||unexpected payload|" admin.vm.property.Get fedora memory x
}

test_property_set_reset_roundtrip() {
    mk_template fedora
    mk_appvm work fedora
    ok admin.vm.property.Set work memory 1000
    expect "0|default=False type=int 1000" admin.vm.property.Get work memory
    ok admin.vm.property.Set work default_user alice
    expect "0|default=False type=str alice" admin.vm.property.Get work default_user
    ok admin.vm.property.Set work debug true
    expect "0|default=False type=bool True" admin.vm.property.Get work debug
    # setting the default's value explicitly is not the default any more
    ok admin.vm.property.Set work vcpus 2
    expect "0|default=False type=int 2" admin.vm.property.Get work vcpus
    for p in memory default_user debug vcpus; do ok admin.vm.property.Reset work $p; done
    expect "0|default=True type=int 400" admin.vm.property.Get work memory
    expect "0|default=True type=str user" admin.vm.property.Get work default_user
    expect "0|default=True type=bool False" admin.vm.property.Get work debug
    expect "0|default=True type=int 2" admin.vm.property.Get work vcpus
    # reset of a property at its default is fine
    ok admin.vm.property.Reset work memory
    # global
    ok admin.property.Set dom0 stats_interval 10
    expect "0|default=False type=int 10" admin.property.Get dom0 stats_interval
    ok admin.property.Reset dom0 stats_interval
    expect "0|default=True type=int 3" admin.property.Get dom0 stats_interval
    ok admin.property.Set dom0 check_updates_vm off
    expect "0|default=False type=bool False" admin.property.Get dom0 check_updates_vm
    expect "2|QubesNoSuchPropertyError||Invalid property 'nope' of work|" admin.vm.property.Set work nope 1
    expect "2|QubesNoSuchPropertyError||Invalid property 'nope' of work|" admin.vm.property.Reset work nope
    expect "2|QubesNoSuchPropertyError||Invalid property 'nope' of Qubes|" admin.property.Set dom0 nope 1
    expect "2|ProtocolError||unexpected payload|" admin.vm.property.Reset work memory 5
}

test_property_get_default_and_help() {
    mk_template fedora
    mk_appvm work fedora
    expect "0|type=int 400" admin.vm.property.GetDefault work memory
    ok admin.vm.property.Set work memory 800
    expect "0|type=int 400" admin.vm.property.GetDefault work memory
    expect "0|type=str user" admin.vm.property.GetDefault work default_user
    expect "0|type=vm dom0" admin.vm.property.GetDefault work guivm
    expect "0|type=vm " admin.vm.property.GetDefault work netvm
    # no default at all: an empty answer
    expect "0|" admin.vm.property.GetDefault work name
    expect "0|" admin.vm.property.GetDefault work template
    expect "0|" admin.vm.property.GetDefault work label
    expect "0|type=str dom0" admin.vm.property.GetDefault dom0 name
    expect "0|" admin.property.GetDefault dom0 default_template
    expect "0|" admin.property.GetDefault dom0 default_kernel
    expect "0|type=int 60" admin.property.GetDefault dom0 default_qrexec_timeout
    expect "2|QubesNoSuchPropertyError||Invalid property 'nope' of work|" \
        admin.vm.property.GetDefault work nope
    expect "0|Memory currently available for this VM. TemplateBasedVMs use its template's value by default." \
        admin.vm.property.Help work memory
    expect "0|VM that provides network connection to this domain. When None, machine is disconnected. When absent, domain uses default NetVM." \
        admin.vm.property.Help work netvm
    expect "0|Internal, persistent identificator of particular domain. Note this is different from Xen domid." \
        admin.vm.property.Help dom0 qid
    expect "0|Default NetVM for AppVMs. Initial state is None, which means that AppVMs are not connected to the Internet." \
        admin.property.Help dom0 default_netvm
    expect "0|Interval in seconds for VM stats reporting (memory, CPU usage)" \
        admin.property.Help dom0 stats_interval
    expect "2|QubesNoSuchPropertyError||Invalid property 'nope' of Qubes|" admin.property.Help dom0 nope
}

test_defaults_inherited_from_template() {
    mk_template fedora
    mk_appvm work fedora
    for p in "memory 1500" "vcpus 3" "default_user bob" "maxmem 3000" "qrexec_timeout 90" \
        "shutdown_timeout 30" "kernelopts quiet" "virt_mode vm"; do
        set -- $p
        ok admin.vm.property.Set fedora "$1" "$2"
        expect "0|default=True type=$(prop_type "$1") $2" admin.vm.property.Get work "$1"
        expect "0|type=$(prop_type "$1") $2" admin.vm.property.GetDefault work "$1"
    done
    # the qube's own value wins; reset goes back to the template's
    ok admin.vm.property.Set work memory 600
    expect "0|default=False type=int 600" admin.vm.property.Get work memory
    ok admin.vm.property.Reset work memory
    expect "0|default=True type=int 1500" admin.vm.property.Get work memory
    # a DispVM inherits through its AppVM from the template
    ok admin.vm.property.Set work template_for_dispvms True
    ok admin.vm.Create.DispVM dom0 work "name=disp label=red"
    expect "0|default=True type=int 3" admin.vm.property.Get disp vcpus
    ok admin.vm.property.Set work vcpus 5
    expect "0|default=True type=int 5" admin.vm.property.Get disp vcpus
    # not inherited: label, debug, netvm
    ok admin.vm.property.Set fedora debug True
    expect "0|default=True type=bool False" admin.vm.property.Get work debug
    # the global timeouts are the fallback
    mk_template t2
    mk_appvm w2 t2
    ok admin.property.Set dom0 default_qrexec_timeout 120
    expect "0|default=True type=int 120" admin.vm.property.Get w2 qrexec_timeout
    expect "0|default=True type=int 120" admin.vm.property.Get t2 qrexec_timeout
    expect "0|default=True type=int 90" admin.vm.property.Get work qrexec_timeout
}

prop_type() {
    case $1 in
    memory | vcpus | maxmem | qrexec_timeout | shutdown_timeout) echo int ;;
    *) echo str ;;
    esac
}

test_bool_literals() {
    mk_template fedora
    for v in 1 yes true on TRUE Yes ON; do
        ok admin.vm.property.Set fedora debug "$v"
        expect "0|default=False type=bool True" admin.vm.property.Get fedora debug
        ok admin.vm.property.Reset fedora debug
    done
    for v in 0 no false off FALSE No OFF; do
        ok admin.vm.property.Set fedora autostart "$v"
        expect "0|default=False type=bool False" admin.vm.property.Get fedora autostart
    done
    for v in maybe 2 "" " true" "true " y n; do
        expect "2|QubesValueError||Invalid literal for boolean property: '$v'|" \
            admin.vm.property.Set fedora debug "$v"
    done
    expect "0|default=True type=bool False" admin.vm.property.Get fedora debug
}

test_int_parse_errors() {
    mk_template fedora
    for v in abc 1.5 0x10 12a "" 1e3 "1 2"; do
        expect "2|QubesValueError||Failed to parse property value as int|" \
            admin.vm.property.Set fedora memory "$v"
    done
    expect "2|QubesValueError||Failed to parse property value as int|" \
        admin.vm.property.Set fedora memory 99999999999999999999
    # surrounding blanks are accepted, as Python's int() does
    ok admin.vm.property.Set fedora memory " 512 "
    expect "0|default=False type=int 512" admin.vm.property.Get fedora memory
    ok admin.vm.property.Set fedora memory +640
    expect "0|default=False type=int 640" admin.vm.property.Get fedora memory
    expect "2|QubesPropertyValueError||memory must be positive|" admin.vm.property.Set fedora memory 0
    expect "2|QubesPropertyValueError||memory must be positive|" admin.vm.property.Set fedora memory -1
    expect "2|QubesPropertyValueError||vcpus must be positive|" admin.vm.property.Set fedora vcpus 0
    expect "2|QubesPropertyValueError||maxmem must be positive or zero|" admin.vm.property.Set fedora maxmem -1
    ok admin.vm.property.Set fedora maxmem 0
    expect "0|default=False type=int 0" admin.vm.property.Get fedora maxmem
    expect "2|QubesPropertyValueError||stats_interval must be positive|" \
        admin.property.Set dom0 stats_interval -3
    expect "0|default=False type=int 640" admin.vm.property.Get fedora memory
}

test_string_values() {
    mk_template fedora
    expect "2|QubesValueError||Invalid characters in property value|" \
        admin.vm.property.Set fedora default_user "$(printf 'a\001b')"
    expect "2|QubesValueError||Invalid characters in property value|" \
        admin.vm.property.Set fedora default_user "é"
    expect "2|QubesPropertyValueError||Username can contain only those characters: abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+,.|" \
        admin.vm.property.Set fedora default_user "a/b"
    ok admin.vm.property.Set fedora default_user "A-b_c+d,e.f9"
    expect "0|default=False type=str A-b_c+d,e.f9" admin.vm.property.Get fedora default_user
    ok admin.vm.property.Set fedora mac 00:16:3E:AA:BB:CC
    expect "0|default=False type=str 00:16:3e:aa:bb:cc" admin.vm.property.Get fedora mac
    expect "2|QubesValueError||Invalid MAC address value|" admin.vm.property.Set fedora mac 00:16:3e:aa:bb
    expect "2|QubesValueError||Invalid IPv4 address: '10.1.2'|" admin.vm.property.Set fedora ip 10.1.2
    long=$(printf 'x%.0s' $(seq 513))
    expect "2|QubesPropertyValueError||Kernelopts value too long (512 chars max)|" \
        admin.vm.property.Set fedora kernelopts "$long"
    ok admin.vm.property.Set fedora kernelopts "${long:1}"
}

test_write_once_and_read_only() {
    mk_template fedora
    mk_appvm work fedora
    ok admin.vm.property.Set work template_for_dispvms True
    ok admin.vm.Create.DispVM dom0 work "name=disp label=red"
    before=$(call admin.vm.property.GetAll work)
    for p in name qid uuid; do
        expect "2|QubesPropertyValueError||property '$p' is write-once and already set|" \
            admin.vm.property.Set work $p 7
        expect "2|QubesPropertyValueError||property '$p' is write-once and already set|" \
            admin.vm.property.Reset work $p
        expect "2|QubesPropertyValueError||property '$p' on AdminVM instance cannot be set|" \
            admin.vm.property.Set dom0 $p 7
    done
    expect "2|QubesPropertyValueError||property 'dispid' is write-once and already set|" \
        admin.vm.property.Set disp dispid 7
    for p in klass icon updateable xid visible_ip visible_gateway gateway dns start_time; do
        expect "2|QubesPropertyValueError||property '$p' on AppVM instance cannot be set|" \
            admin.vm.property.Set work $p x
        expect "2|QubesPropertyValueError||property '$p' on AppVM instance cannot be set|" \
            admin.vm.property.Reset work $p
    done
    expect "2|QubesPropertyValueError||property 'icon' on AdminVM instance cannot be set|" \
        admin.vm.property.Set dom0 icon x
    expect "2|QubesPropertyValueError||property 'maxmem' on Qubes instance cannot be set|" \
        admin.property.Set dom0 maxmem 5
    expect "2|QubesPropertyValueError||property 'no_cpus' on Qubes instance cannot be set|" \
        admin.property.Set dom0 no_cpus 5
    assert_eq "$before" "$(call admin.vm.property.GetAll work)" "unchanged after refused sets"
}

test_label_by_name_and_index() {
    mk_template fedora
    ok admin.vm.property.Set fedora label green
    expect "0|default=False type=label green" admin.vm.property.Get fedora label
    ok admin.vm.property.Set fedora label 3
    expect "0|default=False type=label yellow" admin.vm.property.Get fedora label
    ok admin.vm.property.Set fedora label label-6
    expect "0|default=False type=label blue" admin.vm.property.Get fedora label
    expect "0|default=True type=str templatevm-blue" admin.vm.property.Get fedora icon
    expect "2|QubesLabelNotFoundError||Label does not exist: nope|" admin.vm.property.Set fedora label nope
    expect "2|QubesLabelNotFoundError||Label does not exist: 0|" admin.vm.property.Set fedora label 0
    expect "2|QubesLabelNotFoundError||Label does not exist: 9|" admin.vm.property.Set fedora label 9
    expect "2|QubesLabelNotFoundError||Label does not exist: |" admin.vm.property.Set fedora label ""
    expect "0|default=False type=label blue" admin.vm.property.Get fedora label
}

test_template_property() {
    mk_template fedora
    mk_template debian
    mk_appvm work fedora
    mk_standalone alone
    ok admin.vm.property.Set work template debian
    expect "0|default=False type=vm debian" admin.vm.property.Get work template
    expect "2|QubesPropertyValueError||wrong VM class: domains['alone'] is of type StandaloneVM and not TemplateVM|" \
        admin.vm.property.Set work template alone
    expect "2|QubesPropertyValueError||wrong VM class: domains['work'] is of type AppVM and not TemplateVM|" \
        admin.vm.property.Set work template work
    expect "2|QubesVMNotFoundError||No such domain: 'nope'|" \
        admin.vm.property.Set work template nope
    expect "2|QubesPropertyValueError||Property template cannot be set to None|" \
        admin.vm.property.Set work template ""
    expect "2|QubesValueError||VM name contains illegal characters|" \
        admin.vm.property.Set work template "a b"
    expect "2|QubesValueError||Cannot unset template|" admin.vm.property.Reset work template
    expect "0|default=False type=vm debian" admin.vm.property.Get work template
    expect "2|QubesPropertyValueError||wrong VM class: domains['work'] is of type AppVM and not TemplateVM|" \
        admin.property.Set dom0 default_template work
    ok admin.property.Set dom0 default_template fedora
    expect "0|default=False type=vm fedora" admin.property.Get dom0 default_template
    ok admin.property.Set dom0 default_template ""
    expect "0|default=False type=vm " admin.property.Get dom0 default_template
}

test_netvm_chain() {
    mk_template fedora
    mk_appvm work fedora
    mk_appvm fw fedora
    mk_appvm net fedora
    expect "2|QubesValueError||The net qube does not provide network|" admin.vm.property.Set work netvm net
    expect "2|QubesValueError||The dom0 qube does not provide network|" admin.vm.property.Set work netvm dom0
    expect "2|QubesVMNotFoundError||No such domain: 'nope'|" \
        admin.vm.property.Set work netvm nope
    ok admin.vm.property.Set net provides_network True
    ok admin.vm.property.Set fw provides_network True
    ok admin.vm.property.Set fw netvm net
    ok admin.vm.property.Set work netvm fw
    expect "0|default=False type=vm fw" admin.vm.property.Get work netvm
    # loops, direct and through the chain
    expect "2|QubesValueError||Loops in network are unsupported|" admin.vm.property.Set net netvm net
    expect "2|QubesValueError||Loops in network are unsupported|" admin.vm.property.Set net netvm fw
    ok admin.vm.property.Set work provides_network True
    expect "2|QubesValueError||Loops in network are unsupported|" admin.vm.property.Set net netvm work
    ok admin.vm.property.Reset work provides_network
    # provides_network cannot go while someone uses it
    expect "2|QubesValueError||The qube is still used by other qubes, change theirs 'netvm' first|" \
        admin.vm.property.Set fw provides_network False
    expect "2|QubesValueError||The qube is still used by other qubes, change theirs 'netvm' first|" \
        admin.vm.property.Reset fw provides_network
    expect "0|default=False type=bool True" admin.vm.property.Get fw provides_network
    # None disconnects
    ok admin.vm.property.Set work netvm ""
    expect "0|default=False type=vm " admin.vm.property.Get work netvm
    ok admin.vm.property.Set work netvm fw
    expect "0|default=False type=vm fw" admin.vm.property.Get work netvm
    expect "0|default=False type=vm net" admin.vm.property.Get fw netvm
}

test_default_netvm() {
    mk_template fedora
    mk_appvm work fedora
    mk_appvm net fedora
    expect "2|QubesValueError||The work qube does not provide network|" \
        admin.property.Set dom0 default_netvm work
    ok admin.vm.property.Set net provides_network True
    # net itself would follow the default: a loop
    expect "2|QubesPropertyValueError||Network loop on 'net'|" admin.property.Set dom0 default_netvm net
    expect "0|default=True type=vm " admin.property.Get dom0 default_netvm
    ok admin.vm.property.Set net netvm ""
    ok admin.property.Set dom0 default_netvm net
    expect "0|default=True type=vm net" admin.vm.property.Get work netvm
    # templates stay offline by default
    expect "0|default=True type=vm " admin.vm.property.Get fedora netvm
    expect "2|QubesValueError||The qube is still used by other qubes, change theirs 'netvm' first|" \
        admin.vm.property.Set net provides_network False
    ok admin.vm.property.Set work netvm ""
    ok admin.vm.property.Set net provides_network False
    expect "2|QubesValueError||The net qube does not provide network|" admin.vm.property.Reset work netvm
}

test_network_addresses() {
    mk_template fedora
    mk_appvm net fedora
    mk_appvm work fedora
    ok admin.vm.property.Set net provides_network True
    for p in ip visible_ip visible_gateway gateway dns; do
        expect "0|default=True type=str " admin.vm.property.Get work $p
    done
    ok admin.vm.property.Set work netvm net
    expect "0|default=True type=str 10.137.0.3" admin.vm.property.Get work ip
    expect "0|default=True type=str 10.137.0.3" admin.vm.property.Get work visible_ip
    expect "0|default=True type=str 10.137.0.2" admin.vm.property.Get work visible_gateway
    expect "0|default=True type=str " admin.vm.property.Get work gateway
    expect "0|default=True type=str 10.139.1.1 10.139.1.2" admin.vm.property.Get work dns
    expect "0|default=True type=str 10.137.0.2" admin.vm.property.Get net ip
    expect "0|default=True type=str 10.137.0.2" admin.vm.property.Get net gateway
    expect "0|default=True type=str " admin.vm.property.Get net visible_gateway
    expect "0|default=True type=str 10.139.1.1 10.139.1.2" admin.vm.property.Get net dns
    # an explicit ip
    ok admin.vm.property.Set work ip 10.137.5.5
    expect "0|default=False type=str 10.137.5.5" admin.vm.property.Get work ip
    expect "0|default=True type=str 10.137.5.5" admin.vm.property.Get work visible_ip
    # a DispVM's address comes from its dispid
    ok admin.vm.property.Set work template_for_dispvms True
    ok admin.vm.Create.DispVM dom0 work "name=disp label=red"
    ok admin.vm.property.Set disp netvm net
    d=$(prop disp dispid)
    if [ "$d" -lt 255 ]; then want="10.138.0.$d"; else want="10.138.$(((d - 1) / 254)).$(((d - 1) % 254 + 1))"; fi
    expect "0|default=True type=str $want" admin.vm.property.Get disp ip
}

test_high_qid_addresses() {
    # qids 255 and up avoid .0 and .255
    mk_template fedora
    mk_appvm net fedora
    ok admin.vm.property.Set net provides_network True
    for i in $(seq 3 256); do printf 'name=q%d label=red\n' "$i"; done >"$QUBES_ROOT/names"
    while read -r payload; do
        printf '%s' "$payload" | qubesd-query dom0 admin.vm.Create.AppVM dom0 fedora >/dev/null
    done <"$QUBES_ROOT/names"
    expect "0|default=False type=int 255" admin.vm.property.Get q255 qid
    ok admin.vm.property.Set q254 netvm net
    ok admin.vm.property.Set q255 netvm net
    ok admin.vm.property.Set q256 netvm net
    expect "0|default=True type=str 10.137.0.254" admin.vm.property.Get q254 ip
    expect "0|default=True type=str 10.137.1.1" admin.vm.property.Get q255 ip
    expect "0|default=True type=str 10.137.1.2" admin.vm.property.Get q256 ip
}

test_dispvm_template_properties() {
    mk_template fedora
    mk_appvm work fedora
    mk_appvm dvm fedora
    expect "2|QubesPropertyValueError||The dvm qube is not a disposable template (template_for_dispvms is False)|" \
        admin.vm.property.Set work default_dispvm dvm
    expect "2|QubesPropertyValueError||The dvm qube is not a disposable template (template_for_dispvms is False)|" \
        admin.property.Set dom0 default_dispvm dvm
    expect "2|QubesPropertyValueError||The dvm qube is not a disposable template (template_for_dispvms is False)|" \
        admin.vm.property.Set work management_dispvm dvm
    ok admin.vm.property.Set dvm template_for_dispvms True
    expect "0|default=True type=str templatevm-red" admin.vm.property.Get dvm icon
    ok admin.vm.property.Set work default_dispvm dvm
    expect "0|default=False type=vm dvm" admin.vm.property.Get work default_dispvm
    # template_for_dispvms cannot go while used
    expect "2|QubesVMInUseError||Cannot change template_for_dispvms to False while work uses it as default_dispvm or management_dispvm|" \
        admin.vm.property.Set dvm template_for_dispvms False
    ok admin.vm.property.Reset work default_dispvm
    ok admin.vm.Create.DispVM dom0 dvm "name=disp label=red"
    expect "2|QubesVMInUseError||Cannot change template_for_dispvms to False while there are some DispVMs based on this DVM template|" \
        admin.vm.property.Set dvm template_for_dispvms False
    expect "2|QubesVMInUseError||Cannot change template_for_dispvms to False while there are some DispVMs based on this DVM template|" \
        admin.vm.property.Reset dvm template_for_dispvms
    expect "0|default=False type=bool True" admin.vm.property.Get dvm template_for_dispvms
    ok admin.vm.Remove disp
    ok admin.vm.property.Set dvm template_for_dispvms False
    expect "0|default=True type=str appvm-red" admin.vm.property.Get dvm icon
}

test_virt_mode() {
    mk_template fedora
    mk_appvm work fedora
    mk_standalone alone
    expect "0|default=True type=str sandbox" admin.vm.property.Get work virt_mode
    ok admin.property.Set dom0 default_virt_mode vm
    expect "0|default=True type=str vm" admin.vm.property.Get work virt_mode
    expect "0|default=True type=str vm" admin.vm.property.Get alone virt_mode
    ok admin.vm.property.Set fedora virt_mode SANDBOX
    expect "0|default=False type=str sandbox" admin.vm.property.Get fedora virt_mode
    expect "0|default=True type=str sandbox" admin.vm.property.Get work virt_mode
    expect "0|default=True type=str vm" admin.vm.property.Get alone virt_mode
    for v in hvm pv pvh "" sandboxx; do
        expect "2|QubesValueError||Invalid virtualization mode, supported values: sandbox, vm|" \
            admin.vm.property.Set work virt_mode "$v"
        expect "2|QubesValueError||Invalid virtualization mode, supported values: sandbox, vm|" \
            admin.property.Set dom0 default_virt_mode "$v"
    done
    ok admin.vm.property.Set work virt_mode Vm
    expect "0|default=False type=str vm" admin.vm.property.Get work virt_mode
    expect "0|default=False type=str vm" admin.property.Get dom0 default_virt_mode
}

test_global_pool_and_kernel() {
    expect "2|QubesPropertyValueError||No such storage pool|" admin.property.Set dom0 default_pool nope
    ok admin.property.Set dom0 default_pool linux-kernel
    expect "0|default=True type=str linux-kernel" admin.property.Get dom0 default_pool_root
    expect "2|QubesPropertyValueError||Kernel 'k1' not installed|" admin.property.Set dom0 default_kernel k1
    expect "2|QubesPropertyValueError||Kernel name cannot contain '/'|" \
        admin.property.Set dom0 default_kernel ../k1
    mkdir -p "$QUBES_ROOT/var/lib/qubes/vm-kernels/k1"
    expect "2|QubesPropertyValueError||Kernel 'k1' not properly installed: missing 'vmlinuz' file|" \
        admin.property.Set dom0 default_kernel k1
    touch "$QUBES_ROOT/var/lib/qubes/vm-kernels/k1/vmlinuz"
    ok admin.property.Set dom0 default_kernel k1
    mk_template fedora
    expect "0|default=True type=str k1" admin.vm.property.Get fedora kernel
    ok admin.vm.property.Set fedora kernel ""
    expect "0|default=False type=str " admin.vm.property.Get fedora kernel
}

test_bad_input_changes_nothing() {
    mk_template fedora
    mk_appvm work fedora
    mk_appvm net fedora
    ok admin.vm.property.Set net provides_network True
    ok admin.vm.property.Set work netvm net
    ok admin.vm.property.Set work memory 700
    snap() {
        call admin.vm.property.GetAll work
        call admin.vm.property.GetAll net
        call admin.vm.property.GetAll fedora
        call admin.property.GetAll dom0
    }
    before=$(snap)
    for bad in "memory abc" "memory 0" "vcpus -2" "debug perhaps" "netvm fedora" "netvm nope" \
        "template net" "template nope" "label nope" "name x" "qid 9" "uuid x" "klass X" \
        "virt_mode hvm" "default_dispvm net" "mac zz" "ip 300.1.1.1" "default_user a/b" \
        "nope 1"; do
        set -- $bad
        got=$(call admin.vm.property.Set work "$1" "$2")
        assert_contains "2|" "${got:0:2}" "Set $bad refused"
    done
    got=$(call admin.vm.property.Set net provides_network false)
    assert_contains "2|QubesValueError|" "$got"
    got=$(call admin.vm.property.Set net netvm work)
    assert_contains "2|QubesValueError|" "$got"
    for bad in "default_netvm fedora" "default_template net" "default_pool nope" \
        "stats_interval 0" "default_kernel nope" "maxmem 1"; do
        set -- $bad
        got=$(call admin.property.Set dom0 "$1" "$2")
        assert_contains "2|" "${got:0:2}" "global Set $bad refused"
    done
    for p in template name qid klass; do call admin.vm.property.Reset work $p >/dev/null; done
    assert_eq "$before" "$(snap)" "state after refused changes"
    # and after a restart, too (nothing half-written to the store)
    restart_qubesd
    assert_eq "$before" "$(snap)" "state after refused changes and a restart"
}
