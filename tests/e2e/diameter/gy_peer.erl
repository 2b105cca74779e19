%% A Gy client for billcore's tests, on Erlang/OTP's own diameter application: OTP does the
%% Capabilities-Exchange and the Device-Watchdog, and encodes and decodes every message with
%% its own codec (the dictionary billcore_gy.dia), so nothing here shares code with billcore.
%%
%% erl -noshell -pa DIR -run gy_peer main HOST PORT ORIGIN_HOST SCRIPT
%%
%% SCRIPT is a file of Erlang terms (file:consult), run in order:
%%   {ccr, #{...}}      send a CCR (the map's AVPs, Session-Id etc. given by the test) and
%%                      print the answer
%%   {sleep, Ms}        wait
%%   {watchdog}         print the peer's watchdog state and counters (DWR/DWA seen)
%% Each outcome is one line of JSON on standard output:
%%   {"event":"up"} | {"event":"answer","msg":{...},"errors":[...]} | {"event":"error",...}
-module(gy_peer).

-export([main/1, tw/1]).
-export([peer_up/3, peer_down/3, pick_peer/4, prepare_request/3, prepare_retransmit/3,
         handle_answer/4, handle_error/4, handle_request/3]).

-include_lib("diameter/include/diameter.hrl").

-define(SVC, billcore_test_client).

main([Host, Port, OriginHost, Script]) ->
    main([Host, Port, OriginHost, Script, "30000"]);
main([Host, Port, OriginHost, Script, Watchdog]) ->
    {ok, Steps} = file:consult(Script),
    ok = diameter:start(),
    register(gy_peer_main, self()),
    ok = diameter:start_service(?SVC,
            [{'Origin-Host', OriginHost},
             {'Origin-Realm', "test.realm"},
             {'Vendor-Id', 0},
             {'Product-Name', "otp-gy-peer"},
             {'Auth-Application-Id', [4]},
             {decode_format, map},
             {string_decode, false},
             {application, [{alias, gy}, {dictionary, billcore_gy}, {module, ?MODULE}]}]),
    {ok, Addr} = inet:parse_address(Host),
    {ok, _} = diameter:add_transport(?SVC,
            {connect, [{transport_module, diameter_tcp},
                       {transport_config, [{raddr, Addr}, {rport, list_to_integer(Port)},
                                           {reuseaddr, true}]},
                       {watchdog_timer, watchdog_timer(list_to_integer(Watchdog))},
                       {reconnect_timer, 60000}]}),
    receive
        up -> emit(#{event => up})
    after 5000 ->
        emit(#{event => no_peer}),
        halt(0)
    end,
    lists:foreach(fun step/1, Steps),
    diameter:stop_service(?SVC),
    halt(0).

%% OTP refuses a watchdog_timer below RFC 3539's 6 s as a number, but takes a function: the
%% tests use 500 ms so that a DWR/DWA exchange happens within a second.
watchdog_timer(Ms) when Ms >= 6000 -> Ms;
watchdog_timer(Ms) -> {?MODULE, tw, [Ms]}.

tw(Ms) -> Ms.

step({sleep, Ms}) ->
    timer:sleep(Ms);
step({watchdog}) ->
    [Peer | _] = [P || P <- diameter:service_info(?SVC, connections)],
    Stats = proplists:get_value(statistics, Peer, []),
    Watchdog = proplists:get_value(watchdog, Peer),
    emit(#{event => watchdog,
           state => str(Watchdog),
           stats => [str(S) || S <- Stats]});
step({ccr, Map}) ->
    case diameter:call(?SVC, gy, ['CCR' | Map], []) of
        {answer, Msg, Errors} ->
            emit(#{event => answer, msg => Msg, errors => [str(E) || E <- Errors]});
        Other ->
            emit(#{event => error, reason => str(Other)})
    end.

%% -- callbacks ---------------------------------------------------------------------------

peer_up(_Svc, _Peer, State) ->
    gy_peer_main ! up,
    State.

peer_down(_Svc, _Peer, State) ->
    State.

pick_peer([Peer | _], _, _Svc, _State) ->
    {ok, Peer};
pick_peer([], _, _Svc, _State) ->
    false.

prepare_request(#diameter_packet{msg = ['CCR' | Map]} = Pkt, _Svc, {_, Caps}) ->
    #diameter_caps{origin_host = {OH, _}, origin_realm = {OR, DR}} = Caps,
    Msg = maps:merge(#{'Origin-Host' => OH, 'Origin-Realm' => OR, 'Destination-Realm' => DR},
                     Map),
    {send, Pkt#diameter_packet{msg = ['CCR' | Msg]}}.

prepare_retransmit(Pkt, Svc, Peer) ->
    prepare_request(Pkt, Svc, Peer).

%% The answer as decoded, with the decoder's own complaints (missing or misplaced AVPs).
handle_answer(#diameter_packet{msg = Msg, errors = Errors}, _Req, _Svc, _Peer) ->
    {answer, json_msg(Msg), Errors}.

handle_error(Reason, _Req, _Svc, _Peer) ->
    {error, Reason}.

handle_request(_Pkt, _Svc, _Peer) ->
    discard.

%% -- output --------------------------------------------------------------------------------

json_msg([Name | Map]) when is_map(Map) ->
    maps:put('_command', Name, Map);
json_msg(Other) ->
    #{'_raw' => str(Other)}.

emit(Term) ->
    io:put_chars([json(Term), $\n]).

json(M) when is_map(M) ->
    Pairs = [[json(key(K)), $:, json(V)] || {K, V} <- lists:sort(maps:to_list(M))],
    [${, lists:join($,, Pairs), $}];
json(L) when is_list(L) ->
    [$[, lists:join($,, [json(E) || E <- L]), $]];
json(B) when is_binary(B) ->
    case unicode:characters_to_list(B) of
        S when is_list(S) -> [$", escape(S), $"];
        _ -> json(str(B))
    end;
json(I) when is_integer(I) -> integer_to_list(I);
json(true) -> "true";
json(false) -> "false";
json(A) when is_atom(A) -> json(atom_to_binary(A));
json(T) -> json(str(T)).

key(K) when is_atom(K) -> atom_to_binary(K);
key(K) -> str(K).

str(T) -> unicode:characters_to_binary(io_lib:format("~0p", [T])).

escape(S) ->
    lists:flatmap(fun($") -> "\\\"";
                     ($\\) -> "\\\\";
                     (C) when C < 32 -> io_lib:format("\\u~4.16.0b", [C]);
                     (C) -> [C]
                  end, S).
